import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isTempFileName, removeTempFiles, writeFileAtomic } from '@strata/artifact-layout';
import { contentFor, CONTENT_SIZE, genOf } from './fixtures/content';
import { compileForChildren, killChildren, makeTmpDir, removeTmpDir, runChild } from './helpers';

// The preset's per-project testTimeout is not applied by Jest 30 (it is a global option);
// these tests spawn processes and fsync megabytes, so give them room on a loaded machine.
jest.setTimeout(120_000);

describe('writeFileAtomic', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTmpDir('atomic');
  });
  afterAll(() => removeTmpDir(dir));

  it('creates and replaces a file, leaving no temp file', async () => {
    const target = path.join(dir, 'a.json');
    await writeFileAtomic(target, '{"v":1}');
    expect(readFileSync(target, 'utf8')).toBe('{"v":1}');
    await writeFileAtomic(target, Buffer.from('{"v":2}'));
    expect(readFileSync(target, 'utf8')).toBe('{"v":2}');
    expect(readdirSync(dir).filter(isTempFileName)).toEqual([]);
  });

  it('creates parent directories when asked, and fails without', async () => {
    const target = path.join(dir, 'workflows', 'acme', 'wf.json');
    await expect(writeFileAtomic(target, 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFileAtomic(target, 'x', { createParents: true });
    expect(readFileSync(target, 'utf8')).toBe('x');
  });

  it('applies the mode', async () => {
    const target = path.join(dir, 'private.json');
    await writeFileAtomic(target, 'secret', { mode: 0o600 });
    expect((await fs.stat(target)).mode & 0o777).toBe(0o600);
  });

  it('removes the temp file and keeps the old content when the rename fails', async () => {
    const sub = path.join(dir, 'fail');
    await fs.mkdir(path.join(sub, 'target-is-a-dir'), { recursive: true });
    await fs.writeFile(path.join(sub, 'target-is-a-dir', 'keep'), 'old');
    await expect(writeFileAtomic(path.join(sub, 'target-is-a-dir'), 'new')).rejects.toThrow();
    expect(readFileSync(path.join(sub, 'target-is-a-dir', 'keep'), 'utf8')).toBe('old');
    expect(readdirSync(sub)).toEqual(['target-is-a-dir']);
  });

  it('removeTempFiles removes only temp files, and respects olderThanMs', async () => {
    const sub = path.join(dir, 'temps');
    await fs.mkdir(sub);
    await fs.writeFile(path.join(sub, 'keep.json'), 'x');
    await fs.writeFile(path.join(sub, '.keep.json.0123456789abcdef.strata-tmp'), 'partial');
    await fs.writeFile(path.join(sub, '.other'), 'x');
    expect(await removeTempFiles(sub, { olderThanMs: 60_000 })).toEqual([]);
    expect(await removeTempFiles(sub)).toEqual(['.keep.json.0123456789abcdef.strata-tmp']);
    expect(readdirSync(sub).sort()).toEqual(['.other', 'keep.json']);
    expect(await removeTempFiles(path.join(dir, 'does-not-exist'))).toEqual([]);
  });
});

describe('writeFileAtomic killed half-way', () => {
  const ROUNDS = 30;
  let dir: string;
  let compiled: ReturnType<typeof compileForChildren>;

  beforeAll(() => {
    dir = makeTmpDir('atomic-kill');
    compiled = compileForChildren();
  });
  afterAll(() => {
    killChildren();
    removeTmpDir(dir);
    removeTmpDir(compiled.dir);
  });

  it(`leaves the old or the new full content, never a mix, over ${ROUNDS} SIGKILLs`, async () => {
    const target = path.join(dir, 'big.bin');
    await writeFileAtomic(target, contentFor(0));
    let onDisk = 0;
    let roundsWithTemps = 0;
    let tempsSeen = 0;
    let writesCompleted = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const child = runChild(compiled.fixture('atomic-writer'), [target, String(onDisk + 1)]);
      await child.waitFor((l) => l === 'ready');
      // Let it finish a random number of writes (0-3), then kill it a random moment later:
      // most kills land inside a write (open, write, fsync, rename or directory fsync).
      const completions = Math.floor(Math.random() * 4);
      if (completions > 0) await child.waitFor((l) => l === `done ${onDisk + completions}`);
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');

      const done = child.lines.filter((l) => l.startsWith('done ')).map((l) => Number(l.slice(5)));
      writesCompleted += done.length;
      const lastComplete = done.length > 0 ? Math.max(...done) : onDisk;
      const buf = readFileSync(target);
      const gen = genOf(buf);
      // The write in flight at the kill may or may not have been renamed into place.
      expect([lastComplete, lastComplete + 1]).toContain(gen);
      expect(buf.length).toBe(CONTENT_SIZE);
      expect(buf.equals(contentFor(gen!))).toBe(true);
      onDisk = gen!;

      const others = readdirSync(dir).filter((n) => n !== 'big.bin');
      expect(others.every(isTempFileName)).toBe(true);
      if (others.length > tempsSeen) roundsWithTemps++;
      tempsSeen = others.length;
    }

    const leftovers = readdirSync(dir).filter(isTempFileName);
    expect((await removeTempFiles(dir)).sort()).toEqual(leftovers.sort());
    expect(readdirSync(dir)).toEqual(['big.bin']);
    expect(existsSync(target)).toBe(true);
    // Not assertions, just what this run exercised.
    console.log(
      `atomic-write kill test: ${ROUNDS} kills, ${writesCompleted} completed writes, ` +
        `${roundsWithTemps} kills left a temp file behind`,
    );
  });
});
