import { promises as fs } from 'node:fs';
import { Writable } from 'node:stream';

/**
 * Dirty bytes after which a background datasync starts (one at a time). Small, because what is
 * still dirty when the last byte arrives is flushed on the way to the commit: measured here, a
 * datasync of 8 MiB takes 5-17 ms, one of 2 MiB 1-3 ms.
 */
const SYNC_EVERY = 2 * 1024 * 1024;

/**
 * Writes a new file (`wx`) and flushes it to disk while it is being written: every SYNC_EVERY
 * bytes a datasync runs in the background, so the fsync before the commit finds little left to
 * do instead of the whole file. Finishing waits for the last datasync, so a `finish` means the
 * bytes are durable. Buffered chunks are written together (`writev`); each passes `inspect`
 * first (counting, limits) without another stream in the pipeline, and `written` hears how far
 * the file is written (a hasher reading behind the writer).
 */
export class SyncedFileWriter extends Writable {
  private fh?: fs.FileHandle;
  private dirty = 0;
  private syncing?: Promise<void>;
  private syncError: unknown;
  private total = 0;

  /**
   * `inspect` sees every chunk before it is written (hashing, counting); throwing from it fails
   * the stream with that error and nothing more is written. `written` is told the file's
   * length after each write.
   */
  constructor(
    private readonly filePath: string,
    private readonly inspect: (chunk: Buffer) => void = () => undefined,
    private readonly written: (bytes: number) => void = () => undefined,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fs.open(this.filePath, 'wx', 0o644).then(
      (fh) => {
        this.fh = fh;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _write(
    chunk: Buffer,
    _enc: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      await this.syncing;
      if (this.syncError) throw this.syncError;
      await this.fh!.datasync();
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    (async () => {
      await this.syncing;
      await this.fh?.close();
    })().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    if (this.syncError) throw this.syncError;
    for (const b of buffers) this.inspect(b);
    const fh = this.fh!;
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await fh.writev(pending);
      this.dirty += bytesWritten;
      this.total += bytesWritten;
      pending = dropWritten(pending, bytesWritten);
    }
    this.written(this.total);
    if (this.dirty >= SYNC_EVERY && !this.syncing) {
      this.dirty = 0;
      this.syncing = fh
        .datasync()
        .catch((err: unknown) => {
          this.syncError = err;
        })
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}

/** What is left of `buffers` after the first `n` bytes were written (a short writev). */
function dropWritten(buffers: Buffer[], n: number): Buffer[] {
  let skip = n;
  const rest: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    rest.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return rest;
}
