import { createHash } from 'node:crypto';
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
  /** A chunk about to be written, in file order (hashed here when hashing inline). */
  update(chunk: Buffer): void;
  /** `bytes` from the start of the file are written: the worker may hash up to there. */
  written(bytes: number): void;
  /** The file is complete at `size` bytes: its sha256 (hex), once the worker has caught up. */
  digest(size: number): Promise<string>;
  /** Stops the job (the file is abandoned); idempotent. */
  abort(): void;
}

type Pending = { resolve: (digest: string) => void; reject: (err: Error) => void };

/**
 * Where sha256 runs: `inline` hashes each chunk on the receiving thread as it passes; `worker`
 * reads the file back on a worker thread. Inline costs the receiving thread the hash itself but
 * nothing else; the worker costs a third busy thread plus a copy out of the page cache, and the
 * caller waits for it to catch up at the end. With hardware sha256 (SHA-NI, ARMv8 SHA2: 1.5-2
 * GB/s) a socket delivers bytes far slower than they hash, so inline was measured free (a 50 MiB
 * copy on 2 cores: 89 ms inline, 119 ms on the worker, 88 ms without hashing); a software sha256
 * (~0.4 GB/s) would instead hold the receiving thread longer than the transfer takes.
 */
export type HashPlacement = 'inline' | 'worker';

/** Hash speed from which `auto` hashes inline (bytes per second). */
const INLINE_MIN_BYTES_PER_S = 1e9;

/** sha256 speed of this CPU, measured once (best of 3 over 4 MiB; a few ms). */
export function measureSha256BytesPerSecond(): number {
  const sample = Buffer.alloc(4 * 1024 * 1024, 0x5a);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    createHash('sha256').update(sample).digest();
    best = Math.min(best, Number(process.hrtime.bigint() - t));
  }
  return (sample.length / Math.max(best, 1)) * 1e9;
}

/** `inline` when this CPU hashes at least 1 GB/s, else `worker`. */
export function choosePlacement(bytesPerSecond = measureSha256BytesPerSecond()): HashPlacement {
  return bytesPerSecond >= INLINE_MIN_BYTES_PER_S ? 'inline' : 'worker';
}

/**
 * sha256 of files being written, inline or (see {@link HashPlacement}) on a worker thread that
 * reads each file behind its writer. One worker serves every job; it is started on first use,
 * does not keep the process alive, and is started again after a crash.
 */
export class FileHasher {
  readonly placement: HashPlacement;
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  /** `placement`: fixed, or `auto` (default) to pick by this CPU's measured sha256 speed. */
  constructor(placement: HashPlacement | 'auto' = 'auto') {
    this.placement = placement === 'auto' ? choosePlacement() : placement;
  }

  start(filePath: string): FileHashJob {
    if (this.closed) throw new Error('the file hasher is closed');
    return this.placement === 'inline' ? this.startInline() : this.startOnWorker(filePath);
  }

  private startInline(): FileHashJob {
    const hash = createHash('sha256');
    let hashed = 0;
    let state: 'open' | 'done' = 'open';
    return {
      update: (chunk) => {
        if (state !== 'open') return;
        hash.update(chunk);
        hashed += chunk.length;
      },
      written: () => undefined,
      digest: (size) => {
        if (state !== 'open') return Promise.reject(new Error('this hash job is over'));
        state = 'done';
        if (hashed !== size)
          return Promise.reject(new Error(`hashing: ${hashed} bytes passed, the file has ${size}`));
        return Promise.resolve(hash.digest('hex'));
      },
      abort: () => {
        state = 'done';
      },
    };
  }

  private startOnWorker(filePath: string): FileHashJob {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    worker.postMessage({ op: 'open', id, path: filePath });
    let told = 0;
    let state: 'open' | 'ending' | 'done' = 'open';
    return {
      update: () => undefined,
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
