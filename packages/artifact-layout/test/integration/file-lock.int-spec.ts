import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  acquireFileLock,
  LockTimeoutError,
  readFileLock,
  withFileLock,
  type LockInfo,
} from '@strata/artifact-layout';
import {
  compileForChildren,
  killChildren,
  eventually,
  makeTmpDir,
  removeTmpDir,
  runChild,
} from './helpers';

// The preset's per-project testTimeout is not applied by Jest 30 (it is a global option);
// these tests spawn processes and fsync megabytes, so give them room on a loaded machine.
jest.setTimeout(120_000);

describe('file lock', () => {
  let dir: string;
  let lockPath: string;
  beforeEach(() => {
    dir = makeTmpDir('lock');
    lockPath = path.join(dir, 'domain.lock');
  });
  afterEach(() => removeTmpDir(dir));

  it('is exclusive, and free again after release', async () => {
    const lock = await acquireFileLock(lockPath);
    expect(lock.held).toBe(true);
    const info = (await readFileLock(lockPath)) as LockInfo;
    expect(info).toMatchObject({ pid: process.pid, hostname: os.hostname(), token: lock.token });
    const err = await acquireFileLock(lockPath, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    await lock.release();
    await lock.release();
    expect(lock.held).toBe(false);
    expect(existsSync(lockPath)).toBe(false);
    const again = await acquireFileLock(lockPath, { timeoutMs: 0 });
    await again.release();
  });

  it('serialises waiters in one process', async () => {
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withFileLock(lockPath, { retryIntervalMs: 2 }, async () => {
          maxInside = Math.max(maxInside, ++inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(existsSync(lockPath)).toBe(false);
  });

  it('withFileLock releases when the callback throws', async () => {
    await expect(
      withFileLock(lockPath, {}, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(lockPath)).toBe(false);
  });

  const foreign = (over: Partial<LockInfo> = {}): string =>
    JSON.stringify({
      pid: 4242,
      hostname: 'some-other-host',
      acquiredAt: Date.now(),
      token: 'foreign-token',
      ...over,
    });

  it('takes over a lock from another host once it is older than staleMs', async () => {
    writeFileSync(lockPath, foreign());
    await expect(acquireFileLock(lockPath, { timeoutMs: 150, staleMs: 60_000 })).rejects.toThrow(
      /held by pid 4242 on some-other-host/,
    );
    const past = new Date(Date.now() - 3_600_000);
    await fs.utimes(lockPath, past, past);
    const lock = await acquireFileLock(lockPath, { timeoutMs: 5_000, staleMs: 60_000 });
    expect((await readFileLock(lockPath))?.token).toBe(lock.token);
    await lock.release();
  });

  it('takes over an empty lock file (holder died before writing) once stale, not before', async () => {
    writeFileSync(lockPath, '');
    await expect(acquireFileLock(lockPath, { timeoutMs: 100 })).rejects.toThrow(/unreadable/);
    const past = new Date(Date.now() - 3_600_000);
    await fs.utimes(lockPath, past, past);
    const lock = await acquireFileLock(lockPath, { timeoutMs: 5_000 });
    await lock.release();
  });

  it('takes over a lock naming this pid with a token it does not hold (an earlier process)', async () => {
    const self = await acquireFileLock(path.join(dir, 'probe.lock'));
    const me = (await readFileLock(self.path)) as LockInfo;
    await self.release();
    writeFileSync(lockPath, JSON.stringify({ ...me, token: 'from-a-previous-life' }));
    const lock = await acquireFileLock(lockPath, { timeoutMs: 5_000, staleMs: 3_600_000 });
    await lock.release();
  });

  it('refreshes its mtime while held, so a live holder never looks stale', async () => {
    const lock = await acquireFileLock(lockPath, { staleMs: 300 });
    const past = new Date(Date.now() - 3_600_000);
    await fs.utimes(lockPath, past, past);
    await eventually(async () => (await fs.stat(lockPath)).mtimeMs > past.getTime() + 60_000);
    expect((await readFileLock(lockPath))?.token).toBe(lock.token);
    await lock.release();
  });

  it('notices when its lock was taken over, and does not remove the new holder', async () => {
    let lost: Error | undefined;
    const lock = await acquireFileLock(lockPath, { staleMs: 300, onLost: (e) => (lost = e) });
    writeFileSync(lockPath, foreign());
    await eventually(() => lost !== undefined);
    expect(lost?.message).toMatch(/now held by pid 4242/);
    expect(lock.held).toBe(false);
    await lock.release();
    expect(readFileSync(lockPath, 'utf8')).toContain('foreign-token');
  });
});

describe('file lock across processes', () => {
  let dir: string;
  let compiled: ReturnType<typeof compileForChildren>;
  beforeAll(() => {
    compiled = compileForChildren();
  });
  afterAll(() => {
    killChildren();
    removeTmpDir(compiled.dir);
  });
  beforeEach(() => {
    dir = makeTmpDir('lock-procs');
  });
  afterEach(() => removeTmpDir(dir));

  it('lets only one of two contending processes hold it at a time', async () => {
    const lockPath = path.join(dir, 'domain.lock');
    const log = path.join(dir, 'log');
    const counter = path.join(dir, 'counter');
    writeFileSync(counter, '0');
    writeFileSync(log, '');
    const N = 40;
    const children = ['a', 'b'].map((id) =>
      runChild(compiled.fixture('lock-worker'), [lockPath, log, counter, String(N), id]),
    );
    const exits = await Promise.all(children.map((c) => c.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);

    expect(Number(readFileSync(counter, 'utf8'))).toBe(2 * N);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4 * N);
    for (let i = 0; i < lines.length; i += 2) {
      const [who, what] = lines[i].split(' ');
      expect(what).toBe('enter');
      expect(lines[i + 1]).toBe(`${who} exit`);
    }
    expect(new Set(lines.map((l) => l.split(' ')[0]))).toEqual(new Set(['a', 'b']));
    expect(existsSync(lockPath)).toBe(false);
  });

  it('takes over a lock left by a SIGKILLed process on this host', async () => {
    const lockPath = path.join(dir, 'domain.lock');
    const holder = runChild(compiled.fixture('lock-holder'), [lockPath, 'hold']);
    await holder.waitFor((l) => l.startsWith('locked '));
    expect((await readFileLock(lockPath))?.pid).toBe(holder.proc.pid);
    await expect(acquireFileLock(lockPath, { timeoutMs: 100 })).rejects.toThrow(LockTimeoutError);

    holder.proc.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(lockPath)).toBe(true);
    // staleMs is an hour: only the dead pid can explain the takeover.
    const lock = await acquireFileLock(lockPath, { timeoutMs: 10_000, staleMs: 3_600_000 });
    expect((await readFileLock(lockPath))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('is released when the holder exits normally without releasing', async () => {
    const lockPath = path.join(dir, 'domain.lock');
    const holder = runChild(compiled.fixture('lock-holder'), [lockPath, 'exit']);
    await holder.waitFor((l) => l.startsWith('locked '));
    expect((await holder.exited).code).toBe(0);
    expect(existsSync(lockPath)).toBe(false);
  });
});
