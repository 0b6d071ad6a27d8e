import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyncedFileWriter } from '../../src/artifacts/synced-file.writer';
import { tempDir } from '../support/fixtures';

const MiB = 1024 * 1024;

/** Chunks of uneven sizes (1 byte to 300 KiB), as a socket might hand them over. */
function unevenChunks(total: number): Buffer[] {
  const sizes = [1, 65_536, 300 * 1024, 7, 4096, 65_535, 131_072, 200_000];
  const out: Buffer[] = [];
  for (let left = total, i = 0; left > 0; i++) {
    const n = Math.min(sizes[i % sizes.length], left);
    out.push(randomBytes(n));
    left -= n;
  }
  return out;
}

describe('SyncedFileWriter (real files)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('synced-writer');
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('writes every chunk in order, in batches of at least 1 MiB, and reports each', async () => {
    const chunks = unevenChunks(Math.floor(5.3 * MiB));
    const data = Buffer.concat(chunks);
    const seen: Buffer[] = [];
    const written: number[] = [];
    const file = path.join(dir, 'ordered.bin');
    await pipeline(
      Readable.from(chunks),
      new SyncedFileWriter(
        file,
        (chunk) => seen.push(chunk),
        (bytes) => written.push(bytes),
      ),
    );
    expect((await fs.readFile(file)).equals(data)).toBe(true);
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    expect(written.at(-1)).toBe(data.length);
    // Growing, and every step but the last at least one batch: no write per chunk.
    const steps = written.map((w, i) => w - (i === 0 ? 0 : written[i - 1]));
    expect(steps.every((s) => s > 0)).toBe(true);
    expect(steps.slice(0, -1).every((s) => s >= MiB)).toBe(true);
    expect(written.length).toBeLessThan(chunks.length / 4);
  });

  it('a file smaller than one batch is written whole when the stream ends', async () => {
    const file = path.join(dir, 'small.bin');
    const data = randomBytes(1000);
    await pipeline(
      Readable.from([data.subarray(0, 10), data.subarray(10)]),
      new SyncedFileWriter(file),
    );
    expect((await fs.readFile(file)).equals(data)).toBe(true);
  });

  it('an empty stream leaves an empty file', async () => {
    const file = path.join(dir, 'empty.bin');
    await pipeline(Readable.from([]), new SyncedFileWriter(file));
    expect((await fs.stat(file)).size).toBe(0);
  });

  it('inspect throwing stops the stream with its error: that chunk and later ones are never written', async () => {
    const chunks = unevenChunks(3 * MiB);
    const stopAt = 20;
    const file = path.join(dir, 'stopped.bin');
    let n = 0;
    const failure = new Error('more than the manifest promised');
    const err = await pipeline(
      Readable.from(chunks),
      new SyncedFileWriter(file, () => {
        if (++n === stopAt) throw failure;
      }),
    ).catch((e: unknown) => e);
    expect(err).toBe(failure);
    const before = Buffer.concat(chunks.slice(0, stopAt - 1));
    const onDisk = await fs.readFile(file);
    // Whatever reached the disk is a prefix of what came before the refused chunk.
    expect(onDisk.length).toBeLessThanOrEqual(before.length);
    expect(onDisk.equals(before.subarray(0, onDisk.length))).toBe(true);
    // The handle is closed: the file can go at once.
    await fs.unlink(file);
  });

  it('never replaces an existing file (wx): the stream fails and the file is untouched', async () => {
    const file = path.join(dir, 'taken.bin');
    await fs.writeFile(file, 'already here');
    const err = await pipeline(Readable.from([randomBytes(10)]), new SyncedFileWriter(file)).catch(
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('EEXIST');
    expect(await fs.readFile(file, 'utf8')).toBe('already here');
  });

  it('a source that fails midway fails the pipeline and leaves only a prefix behind', async () => {
    const chunks = unevenChunks(2 * MiB);
    const file = path.join(dir, 'broken-source.bin');
    async function* source() {
      for (const [i, c] of chunks.entries()) {
        if (i === 15) throw new Error('socket hang up');
        yield c;
      }
    }
    await expect(pipeline(Readable.from(source()), new SyncedFileWriter(file))).rejects.toThrow(
      'socket hang up',
    );
    const onDisk = await fs.readFile(file);
    expect(onDisk.equals(Buffer.concat(chunks).subarray(0, onDisk.length))).toBe(true);
  });
});
