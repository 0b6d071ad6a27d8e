import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PKG = path.resolve(__dirname, '../..');

export function makeTmpDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `strata-al-${label}-`));
}

export function removeTmpDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Child processes cannot load TypeScript, and tests must not depend on a fresh `dist`: compile
 * `src` and the fixtures with swc (what Jest uses) into a temp dir, keeping relative imports.
 */
export function compileForChildren(): { dir: string; fixture(name: string): string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const swc = require('@swc/core') as typeof import('@swc/core');
  const out = makeTmpDir('compiled');
  for (const rel of ['src', 'test/integration/fixtures']) {
    for (const name of readdirSync(path.join(PKG, rel))) {
      if (!name.endsWith('.ts') || name.endsWith('.spec.ts')) continue;
      const { code } = swc.transformFileSync(path.join(PKG, rel, name), {
        jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      });
      mkdirSync(path.join(out, rel), { recursive: true });
      writeFileSync(path.join(out, rel, name.replace(/\.ts$/, '.js')), code);
    }
  }
  return {
    dir: out,
    fixture: (name) => path.join(out, 'test/integration/fixtures', `${name}.js`),
  };
}

export interface Child {
  proc: ChildProcess;
  /** Lines written to stdout so far. */
  lines: string[];
  /** Resolves when a line matching `pred` has been seen. */
  waitFor(pred: (line: string) => boolean): Promise<string>;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every child still running (call from afterAll, so a failed test leaves none behind). */
export function killChildren(): void {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
}

export function runChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let buf = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters])
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    lines,
    exited,
    stderr: () => err,
    waitFor(pred) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exited.then(({ code, signal }) =>
          reject(new Error(`child exited (${code ?? signal}) before the expected line:\n${err}`)),
        );
      });
    },
  };
}

/** Polls `check` until it returns true; fails after `limitMs` (a hang guard, not a timing claim). */
export async function eventually(check: () => Promise<boolean> | boolean, limitMs = 20_000) {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
