import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  choosePlacement,
  FileHasher,
  measureSha256BytesPerSecond,
} from '../../src/artifacts/file-hasher.adapter';
import { tempDir } from '../support/fixtures';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Appends `data` to `file` in `pieces`, telling `job` the length after each like the writer does. */
async function writeInPieces(
  file: string,
  data: Buffer,
  pieces: number,
  job: { update(chunk: Buffer): void; written(bytes: number): void },
): Promise<void> {
  const fh = await fs.open(file, 'wx');
  try {
    const step = Math.ceil(data.length / pieces);
    for (let at = 0; at < data.length; at += step) {
      job.update(data.subarray(at, at + step));
      await fh.write(data.subarray(at, at + step));
      job.written(Math.min(at + step, data.length));
    }
  } finally {
    await fh.close();
  }
}

describe('FileHasher (real files)', () => {
  let dir: string;
  /** The worker thread reading behind the writer. */
  let hasher: FileHasher;
  /** Each chunk hashed as it passes. */
  let inline: FileHasher;

  beforeEach(async () => {
    dir = await tempDir('hasher');
    hasher = new FileHasher('worker');
    inline = new FileHasher('inline');
  });
  afterEach(async () => {
    await hasher.close();
    await inline.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each(['worker', 'inline'] as const)(
    '%s: gives the sha256 of files written in pieces, several at once',
    async (placement) => {
      const using = placement === 'worker' ? hasher : inline;
      const files = [0, 1, 5 * 1024 * 1024 + 17, 3 * 1024 * 1024].map((n) => randomBytes(n));
      const digests = await Promise.all(
        files.map(async (data, i) => {
          const file = path.join(dir, `f${i}`);
          const job = using.start(file);
          await writeInPieces(file, data, 7, job);
          return job.digest(data.length);
        }),
      );
      expect(digests).toEqual(files.map(sha));
    },
  );

  it('hashes the bytes on disk: a change behind the writer shows in the digest', async () => {
    const file = path.join(dir, 'f');
    const data = randomBytes(2 * 1024 * 1024);
    const job = hasher.start(file);
    await fs.writeFile(file, data);
    await fs.writeFile(file, Buffer.alloc(10, 1), { flag: 'r+' });
    expect(await job.digest(data.length)).not.toBe(sha(data));
  });

  it('refuses a file shorter than said, and a missing one, and goes on serving', async () => {
    const short = path.join(dir, 'short');
    await fs.writeFile(short, Buffer.alloc(100));
    await expect(hasher.start(short).digest(101)).rejects.toThrow(/ends at 100 bytes/);
    await expect(hasher.start(path.join(dir, 'missing')).digest(1)).rejects.toThrow(/ENOENT/);

    const ok = path.join(dir, 'ok');
    await fs.writeFile(ok, 'abc');
    expect(await hasher.start(ok).digest(3)).toBe(sha(Buffer.from('abc')));
  });

  it('an aborted job gives no digest and does not disturb the others', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const data = randomBytes(3 * 1024 * 1024);
    const jobA = hasher.start(a);
    const jobB = hasher.start(b);
    await writeInPieces(a, data, 3, jobA);
    jobA.abort();
    jobA.abort();
    await writeInPieces(b, data, 3, jobB);
    await expect(jobA.digest(data.length)).rejects.toThrow(/over/);
    expect(await jobB.digest(data.length)).toBe(sha(data));
  });

  it('close fails the jobs still running; a closed hasher starts none', async () => {
    const file = path.join(dir, 'f');
    await fs.writeFile(file, randomBytes(64 * 1024 * 1024));
    const pending = hasher.start(file).digest(64 * 1024 * 1024);
    const closing = hasher.close();
    await expect(pending).rejects.toThrow(/closed/);
    await closing;
    expect(() => hasher.start(file)).toThrow(/closed/);
  });

  it('inline: refuses a size that is not what passed; an aborted job gives no digest; closed starts none', async () => {
    const job = inline.start(path.join(dir, 'x'));
    job.update(Buffer.from('abc'));
    await expect(job.digest(4)).rejects.toThrow(/3 bytes passed, the file has 4/);
    const aborted = inline.start(path.join(dir, 'y'));
    aborted.update(Buffer.from('abc'));
    aborted.abort();
    await expect(aborted.digest(3)).rejects.toThrow(/over/);
    await inline.close();
    expect(() => inline.start(path.join(dir, 'z'))).toThrow(/closed/);
  });

  it('auto picks inline for a CPU hashing at 1 GB/s or more, the worker below', () => {
    expect(choosePlacement(1.8e9)).toBe('inline');
    expect(choosePlacement(0.4e9)).toBe('worker');
    expect(measureSha256BytesPerSecond()).toBeGreaterThan(1e6);
    expect(['inline', 'worker']).toContain(new FileHasher().placement);
  });
});
