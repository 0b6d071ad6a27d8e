import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, unlinkSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoCode, LockTimeoutError } from './errors';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  hostname: string;
  /** Linux pid namespace (`pid:[...]`), so two containers that share a hostname are not confused. */
  pidNamespace?: string;
  /** Epoch ms when the lock was taken. */
  acquiredAt: number;
  /** Unique per acquisition: release and takeover only remove the lock they observed. */
  token: string;
}

export interface FileLockOptions {
  /** Give up after this long with a {@link LockTimeoutError}. 0 tries once. Default 30 000. */
  timeoutMs?: number;
  /**
   * A lock whose file was not refreshed for this long is taken over, whoever holds it. The
   * holder refreshes the file's mtime every `staleMs / 3`, so this bounds how long a crashed
   * holder on another host blocks others, not how long a live holder may keep the lock.
   * A holder on this host whose pid is gone is taken over at once. Default 60 000.
   */
  staleMs?: number;
  /** Poll interval while waiting (randomised ±50%). Default 50. */
  retryIntervalMs?: number;
  /** Called (once) if a refresh finds the lock removed or taken over by someone else. */
  onLost?: (err: Error) => void;
}

export interface FileLock {
  readonly path: string;
  readonly token: string;
  /** True until released or found lost. */
  readonly held: boolean;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

interface Observed {
  info: LockInfo | null;
  mtimeMs: number;
  ino: number;
  dev: number;
  size: number;
}

const held = new Map<string, string>(); // lock path -> token, for the exit hook
// Tokens of locks and break mutexes this process holds right now. A file naming this pid with
// another token was left by an earlier process that had the same pid (a restarted container's
// pid 1, say) and is dead.
const liveTokens = new Set<string>();
let exitHookInstalled = false;

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}
const SELF = { hostname: os.hostname(), pidNamespace: pidNamespace() };

function parseInfo(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (
      typeof v.pid === 'number' &&
      typeof v.hostname === 'string' &&
      typeof v.token === 'string' &&
      typeof v.acquiredAt === 'number'
    )
      return v as LockInfo;
  } catch {
    // A holder killed between creating and writing the file leaves it empty: judged by age.
  }
  return null;
}

/** Reads a lock file; null when absent or unreadable. For diagnostics. */
export async function readFileLock(lockPath: string): Promise<LockInfo | null> {
  return (await observe(lockPath))?.info ?? null;
}

async function observe(p: string): Promise<Observed | null> {
  try {
    const [st, text] = await Promise.all([fs.stat(p), fs.readFile(p, 'utf8')]);
    return { info: parseInfo(text), mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev, size: st.size };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

function sameLock(a: Observed, b: Observed): boolean {
  if (a.info && b.info) return a.info.token === b.info.token;
  return a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

function isStale(o: Observed, staleMs: number): boolean {
  const i = o.info;
  if (i && i.hostname === SELF.hostname && i.pidNamespace === SELF.pidNamespace) {
    if (i.pid === process.pid ? !liveTokens.has(i.token) : !pidAlive(i.pid)) return true;
  }
  return Date.now() - o.mtimeMs > staleMs;
}

function describe(o: Observed | null): string {
  if (!o) return 'nobody (it was just released)';
  if (!o.info) return 'an unknown process (unreadable lock file)';
  return `pid ${o.info.pid} on ${o.info.hostname} since ${new Date(o.info.acquiredAt).toISOString()}`;
}

/**
 * O_EXCL create with our info; false if the file exists.
 *
 * Not fsynced (nor its directory): exclusion comes from O_EXCL, which holds without either, and
 * a lock only has to outlive its holder, never a crash of the machine. After one, a lock file
 * that is missing or empty is exactly as good as one that survived: its holder is dead, and an
 * empty file is judged by its age. The two fsyncs cost 3-10 ms per acquisition on a disk that
 * is busy writing a download (measured 2026-12-07), on every cold ensure's space reservation.
 */
async function tryCreate(p: string, info: LockInfo): Promise<boolean> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(p, 'wx', 0o644);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(JSON.stringify(info));
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.unlink(p).catch(() => undefined);
    throw err;
  }
  return true;
}

async function unlinkIfSame(p: string, seen: Observed): Promise<boolean> {
  const now = await observe(p);
  if (!now || !sameLock(now, seen)) return now === null;
  await fs.unlink(p).catch((err) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
  });
  return true;
}

/**
 * Removes a stale lock. Takers serialise on a `.break` mutex and re-check, under it, that the
 * lock is still the one they judged stale, so a lock created meanwhile is never removed.
 * (A taker killed inside that tiny section leaves a `.break` file, itself broken when stale.)
 */
async function breakStale(p: string, seen: Observed, staleMs: number): Promise<boolean> {
  const mutex = `${p}.break`;
  const mine: LockInfo = { ...newInfo(), acquiredAt: Date.now() };
  liveTokens.add(mine.token);
  try {
    if (!(await tryCreate(mutex, mine))) {
      const m = await observe(mutex);
      if (m && isStale(m, staleMs)) await unlinkIfSame(mutex, m);
      return false;
    }
    try {
      return await unlinkIfSame(p, seen);
    } finally {
      await fs.unlink(mutex).catch(() => undefined);
    }
  } finally {
    liveTokens.delete(mine.token);
  }
}

function newInfo(): LockInfo {
  return {
    pid: process.pid,
    hostname: SELF.hostname,
    ...(SELF.pidNamespace ? { pidNamespace: SELF.pidNamespace } : {}),
    acquiredAt: Date.now(),
    token: randomUUID(),
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Normal exits release what is still held; a SIGKILL cannot, which is what takeover is for.
  process.on('exit', () => {
    for (const [p, token] of held) {
      try {
        if (parseInfo(readFileSync(p, 'utf8'))?.token === token) unlinkSync(p);
      } catch {
        // Exiting anyway.
      }
    }
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Takes a cross-process exclusive lock: an O_EXCL-created file at `lockPath` holding pid,
 * hostname and a token. Not re-entrant. Works on one host and across hosts sharing a file
 * system with sane O_EXCL (local disks, NFSv3+); age-based takeover across hosts assumes
 * their clocks roughly agree (well within `staleMs`).
 */
export async function acquireFileLock(
  lockPath: string,
  options: FileLockOptions = {},
): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const retryMs = options.retryIntervalMs ?? 50;
  const p = path.resolve(lockPath);
  await fs.mkdir(path.dirname(p), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const info = newInfo();
  liveTokens.add(info.token);
  try {
    for (;;) {
      info.acquiredAt = Date.now();
      if (await tryCreate(p, info)) break;
      const seen = await observe(p);
      if (!seen) continue; // released between our create and our read
      if (isStale(seen, staleMs) && (await breakStale(p, seen, staleMs))) continue;
      const left = deadline - Date.now();
      if (left <= 0) throw new LockTimeoutError(p, describe(seen), timeoutMs);
      await sleep(Math.min(left, retryMs * (0.5 + Math.random())));
    }
  } catch (err) {
    liveTokens.delete(info.token);
    throw err;
  }
  return startHolding(p, info.token, staleMs, options.onLost);
}

function startHolding(
  p: string,
  token: string,
  staleMs: number,
  onLost?: (err: Error) => void,
): FileLock {
  held.set(p, token);
  installExitHook();
  let isHeld = true;
  let timer: NodeJS.Timeout | undefined;

  const lost = (why: string) => {
    if (!isHeld) return;
    isHeld = false;
    held.delete(p);
    liveTokens.delete(token);
    onLost?.(new Error(`Lock ${p} was lost: ${why}`));
  };

  const refresh = async () => {
    timer = undefined;
    if (!isHeld) return;
    try {
      const o = await observe(p);
      if (!o) return lost('the lock file was removed');
      if (o.info?.token !== token) return lost(`it is now held by ${describe(o)}`);
      const now = new Date();
      await fs.utimes(p, now, now);
    } catch {
      // Transient I/O error: try again next tick; staleness is what others judge by.
    }
    schedule();
  };
  const schedule = () => {
    if (!isHeld) return;
    timer = setTimeout(() => void refresh(), Math.max(10, staleMs / 3));
    timer.unref();
  };
  schedule();

  return {
    path: p,
    token,
    get held() {
      return isHeld;
    },
    async release() {
      if (timer) clearTimeout(timer);
      if (!isHeld) return;
      isHeld = false;
      held.delete(p);
      try {
        const o = await observe(p);
        if (o?.info?.token === token) await unlinkIfSame(p, o);
      } finally {
        liveTokens.delete(token);
      }
    },
  };
}

/** Runs `fn` holding the lock, releasing it afterwards whatever happens. */
export async function withFileLock<T>(
  lockPath: string,
  options: FileLockOptions,
  fn: (lock: FileLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireFileLock(lockPath, options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
