import { Worker } from 'node:worker_threads';

/**
 * The worker's code (CommonJS, evaluated): per job, it reads the file from where it stopped up
 * to the length it was told is written, and hashes it. Reading back what was written costs a
 * copy out of the page cache in the worker instead of one on the main thread, and the digest is
 * of the bytes on disk.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const jobs = new Map();
const buffer = Buffer.allocUnsafe(1 << 20);
function readUpTo(job, upTo) {
  while (job.pos < upTo) {
    const n = fs.readSync(job.fd, buffer, 0, Math.min(buffer.length, upTo - job.pos), job.pos);
    if (n === 0) throw new Error('the file ends at ' + job.pos + ' bytes, ' + upTo + ' were written');
    job.hash.update(buffer.subarray(0, n));
    job.pos += n;
  }
}
function drop(id) {
  const job = jobs.get(id);
  jobs.delete(id);
  if (job && job.fd !== undefined) fs.closeSync(job.fd);
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'open') {
      jobs.set(m.id, { fd: undefined, path: m.path, hash: createHash('sha256'), pos: 0 });
      return;
    }
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.op === 'drop') return drop(m.id);
    if (job.fd === undefined) job.fd = fs.openSync(job.path, 'r');
    readUpTo(job, m.upTo);
    if (m.op === 'end') {
      const digest = job.hash.digest('hex');
      drop(m.id);
      parentPort.postMessage({ id: m.id, digest });
    }
  } catch (err) {
    try { drop(m.id); } catch {}
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

/** Bytes written between two notices to the worker (fewer messages; the tail is small). */
const NOTIFY_EVERY = 1024 * 1024;

/** One file being hashed while it is written. */
export interface FileHashJob {
  /** `bytes` from the start of the file are written: the worker may hash up to there. */
  written(bytes: number): void;
  /** The file is complete at `size` bytes: its sha256 (hex), once the worker has caught up. */
  digest(size: number): Promise<string>;
  /** Stops the job (the file is abandoned); idempotent. */
  abort(): void;
}

type Pending = { resolve: (digest: string) => void; reject: (err: Error) => void };

/**
 * sha256 of files being written, computed on a worker thread that reads each file behind its
 * writer, so hashing overlaps the download instead of taking the main thread (which also
 * receives the bytes). One worker serves every job; it is started on first use, does not keep
 * the process alive, and is started again after a crash.
 */
export class FileHasher {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  start(filePath: string): FileHashJob {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    worker.postMessage({ op: 'open', id, path: filePath });
    let told = 0;
    let state: 'open' | 'ending' | 'done' = 'open';
    return {
      written: (bytes) => {
        if (state !== 'open' || bytes - told < NOTIFY_EVERY) return;
        told = bytes;
        worker.postMessage({ op: 'hash', id, upTo: bytes });
      },
      digest: (size) => {
        if (state !== 'open') return Promise.reject(new Error('this hash job is over'));
        if (this.worker !== worker)
          return Promise.reject(new Error('the hashing worker stopped during the job'));
        state = 'ending';
        return new Promise<string>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          worker.ref();
          worker.postMessage({ op: 'end', id, upTo: size });
        }).finally(() => {
          state = 'done';
        });
      },
      abort: () => {
        if (state === 'done') return;
        state = 'done';
        if (this.pending.delete(id) && this.pending.size === 0) worker.unref();
        // A worker that crashed meanwhile has no job to drop.
        if (this.worker === worker) worker.postMessage({ op: 'drop', id });
      },
    };
  }

  /** Stops the worker; jobs still running fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error('the file hasher was closed'));
    await worker?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.closed) throw new Error('the file hasher is closed');
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (m: { id: number; digest?: string; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.digest !== undefined) p.resolve(m.digest);
      else p.reject(new Error(`hashing: ${m.error}`));
    });
    const gone = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on('error', (err) => gone(err));
    worker.on('exit', (code) => gone(new Error(`the hashing worker exited (code ${code})`)));
    // Only after the listeners (adding a 'message' listener refs the worker again): an idle
    // worker does not keep the process alive; one owing a digest does (see `digest`).
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
