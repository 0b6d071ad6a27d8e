import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SCHEMA } from '@strata/config';
import { track } from './child-process.registry';
import { httpGet } from './http.util';
import { appMain } from './repo-paths.util';

export type LogRecord = Record<string, unknown> & { level?: string; msg?: string };

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedService {
  readonly name: string;
  readonly pid: number | undefined;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Raw lines, as they arrive. */
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  /** stdout lines that parsed as JSON log records. */
  readonly logs: readonly LogRecord[];
  /** Everything written so far, stdout then stderr (for assertion messages). */
  output(): string;
  /** Resolves with the first log record (past or future) matching `predicate`. */
  waitForLog(predicate: (r: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Polls /readyz until it answers 200; rejects early if the process exits. */
  waitForReady(timeoutMs?: number): Promise<void>;
  sigterm(): void;
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface SpawnProcessOptions {
  /** Label used in messages. */
  readonly name: string;
  /** The script run with `node`. */
  readonly script: string;
  /** The whole environment of the child, besides PATH and HOME. */
  readonly env: Readonly<Record<string, string>>;
  /** HTTP port the child listens on (for `url` and `waitForReady`). */
  readonly port: number;
  readonly cwd?: string;
}

/** The variable holding a service's port: `gateway` → GATEWAY_PORT (checked against the schema). */
export function portVariable(service: string): string {
  const name = `${service.toUpperCase().replace(/-/g, '_')}_PORT`;
  if (!(name in SCHEMA))
    throw new Error(`${service} has no port variable (${name} is not in SCHEMA)`);
  return name;
}

/**
 * Starts `node <script>` with a clean environment: PATH and HOME, plus exactly `env` — no
 * Strata variable of the test runner leaks in. Output is collected line by line.
 */
export function spawnProcess(options: SpawnProcessOptions): SpawnedService {
  if (!existsSync(options.script)) {
    throw new Error(`${options.script} does not exist: build it first (pnpm build)`);
  }
  const env: Record<string, string> = { ...options.env };
  if (process.env.PATH) env.PATH = process.env.PATH;
  if (process.env.HOME) env.HOME = process.env.HOME;
  const child = spawn(process.execPath, [options.script], {
    env,
    cwd: options.cwd ?? path.dirname(options.script),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);

  const stdout: string[] = [];
  const stderr: string[] = [];
  const logs: LogRecord[] = [];
  const listeners = new Set<(r: LogRecord) => void>();
  const lines = (sink: string[], onLine?: (line: string) => void) => {
    let rest = '';
    return (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        sink.push(line);
        onLine?.(line);
      }
    };
  };
  child.stdout?.on(
    'data',
    lines(stdout, (line) => {
      if (!line.startsWith('{')) return;
      try {
        const record = JSON.parse(line) as LogRecord;
        logs.push(record);
        for (const l of listeners) l(record);
      } catch {
        // not a log record
      }
    }),
  );
  child.stderr?.on('data', lines(stderr));

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the last stdout/stderr chunks arrive before callers inspect the output.
      setImmediate(() => resolve({ code, signal }));
    });
  });
  let exitInfo: ExitInfo | undefined;
  void exited.then((e) => (exitInfo = e));

  const url = `http://127.0.0.1:${options.port}`;
  const output = () => [...stdout, ...stderr].join('\n');

  return {
    name: options.name,
    pid: child.pid,
    url,
    stdout,
    stderr,
    logs,
    output,
    exited,
    waitForLog(predicate, timeoutMs = 20_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (r: LogRecord) => {
          if (predicate(r)) {
            done();
            resolve(r);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${options.name}: no matching log line\n${output()}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then((e) => {
          if (!listeners.has(listener)) return;
          done();
          reject(new Error(`${options.name} exited (${e.code ?? e.signal}) first\n${output()}`));
        });
      });
    },
    async waitForReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitInfo) {
          const how = exitInfo.code ?? exitInfo.signal;
          throw new Error(`${options.name} exited (${how}) before it was ready\n${output()}`);
        }
        const res = await httpGet(`${url}/readyz`, 5000).catch(() => undefined);
        if (res?.status === 200) return;
        if (Date.now() > deadline) {
          const last = res ? `${res.status} ${res.text}` : 'no answer';
          throw new Error(`${options.name} not ready after ${timeoutMs} ms (${last})\n${output()}`);
        }
        await sleep(100);
      }
    },
    sigterm: () => void child.kill('SIGTERM'),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => void child.kill(signal),
    async stop(graceMs = 30_000) {
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const e = await exited;
      clearTimeout(timer);
      return e;
    },
  };
}

/** Starts the built app `apps/<name>/dist/main.js` with exactly `env` (plus PATH and HOME). */
export function spawnService(name: string, env: Readonly<Record<string, string>>): SpawnedService {
  const variable = portVariable(name);
  const port = Number(env[variable]);
  return spawnProcess({
    name,
    script: appMain(name),
    env,
    // A bad port is a test of the config check; any number keeps `url` well-formed.
    port: Number.isInteger(port) ? port : 0,
  });
}
