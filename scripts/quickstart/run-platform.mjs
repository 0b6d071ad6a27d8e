#!/usr/bin/env node
// Runs the whole platform on this machine as separate processes: the embedded S3 (when
// S3_ENDPOINT is unset) and the four services, each with its own coloured log prefix.
// Waits for every /readyz, prints the URLs, runs the demo-seeding hook, then stays up until
// Ctrl-C (SIGINT) or SIGTERM, when it sends SIGTERM to every child, waits, and exits.
// If a service exits on its own, it says which one and stops the rest (exit 1).
//
// Called by scripts/quickstart.sh after install, build and migrations; it expects built
// dist/ folders and DATABASE_URL in the environment. Plain ESM, no build step.
//
// Environment (besides the platform's own variables, see the README's configuration table):
//   STRATA_S3_PORT          port of the embedded S3 (4569)
//   STRATA_READY_TIMEOUT    seconds to wait for every /readyz (90)
//   STRATA_SKIP_SEED=1      skip the demo-seeding hook
//   NO_COLOR / FORCE_COLOR  colour of the prefixes
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { seedDemo } from './seed-demo.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stateDir = path.join(repoRoot, '.strata');
const env = { ...process.env };

const SERVICES = [
  { name: 'gateway', portVar: 'GATEWAY_PORT', port: 8080, colour: 36 },
  { name: 'model-loader', portVar: 'MODEL_LOADER_PORT', port: 8081, colour: 35 },
  { name: 'inference-worker', portVar: 'INFERENCE_WORKER_PORT', port: 8082, colour: 33 },
  { name: 'telemetry-sender', portVar: 'TELEMETRY_SENDER_PORT', port: 8083, colour: 32 },
];
const S3_COLOUR = 34;
const SELF = 'quickstart';
const WIDTH = Math.max(SELF.length, ...SERVICES.map((s) => s.name.length));
const useColour =
  env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0'
    ? true
    : !('NO_COLOR' in env) && Boolean(process.stdout.isTTY);
// Grace for children on shutdown: services wait SHUTDOWN_TIMEOUT (25 s) for in-flight work.
const STOP_GRACE_MS = (Number(env.SHUTDOWN_TIMEOUT) || 25) * 1000 + 10_000;
const READY_TIMEOUT_MS = (Number(env.STRATA_READY_TIMEOUT) || 90) * 1000;

function prefix(name, colour) {
  const label = `[${name}]`.padEnd(WIDTH + 2);
  return useColour ? `\x1b[${colour}m${label}\x1b[0m` : label;
}

function say(message) {
  process.stdout.write(`${prefix(SELF, 1)} ${message}\n`);
}

function shout(message) {
  const text = useColour ? `\x1b[31;1m${message}\x1b[0m` : message;
  process.stderr.write(`${prefix(SELF, 1)} ${text}\n`);
}

/** @type {{ name: string, child: import('node:child_process').ChildProcess, exited: Promise<{code: number|null, signal: string|null}> }[]} */
const children = [];
let stopping = false;

function start(name, colour, args, onLine) {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a Ctrl-C in the terminal reaches only this script, which then stops the
    // children with SIGTERM in order, instead of every process getting SIGINT at once.
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      process.stdout.write(`${prefix(name, colour)} ${line}\n`);
      onLine?.(line);
    });
  }
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const entry = { name, child, exited };
  children.push(entry);
  exited.then(({ code, signal }) => {
    if (stopping) return;
    shout(
      `${name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); stopping the others`,
    );
    void shutdown(1);
  });
  child.on('error', (err) => {
    if (stopping) return;
    shout(`${name} could not start: ${err.message}`);
    void shutdown(1);
  });
  return entry;
}

/** SIGTERM to each child, waits for it (SIGKILL after the grace period); resolves clean or not. */
async function stopAll(entries) {
  const results = await Promise.all(
    entries.map(async (c) => {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        try {
          c.child.kill('SIGTERM');
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        shout(`${c.name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
        try {
          process.kill(-c.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, STOP_GRACE_MS);
      const r = await c.exited;
      clearTimeout(timer);
      say(`${c.name} stopped (${r.signal ? `signal ${r.signal}` : `exit code ${r.code}`})`);
      return r.code === 0;
    }),
  );
  return results.every(Boolean);
}

async function shutdown(exitCode, reason) {
  if (stopping) return;
  stopping = true;
  if (reason) say(`${reason}: stopping every process (SIGTERM)...`);
  const alive = (c) => c.child.exitCode === null && c.child.signalCode === null;
  // Services first (they may be finishing a download or a job), then the embedded S3.
  const services = children.filter((c) => c.name !== 's3' && alive(c));
  const infra = children.filter((c) => c.name === 's3' && alive(c));
  const cleanServices = await stopAll(services);
  const cleanInfra = await stopAll(infra);
  const code = exitCode !== 0 ? exitCode : cleanServices && cleanInfra ? 0 : 1;
  say(code === 0 ? 'everything stopped cleanly' : `stopped (exit ${code})`);
  process.exit(code);
}

// Last resort if this script dies on an error: do not leave services behind.
process.on('exit', () => {
  for (const c of children) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      try {
        c.child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }
});
process.on('SIGINT', () => void shutdown(0, 'SIGINT received'));
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM received'));
process.on('uncaughtException', (err) => {
  shout(`quickstart failed: ${err.stack ?? err}`);
  void shutdown(1);
});

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function portInUse(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitReady(name, url) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (stopping) return false;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (res.status === 200) return true;
      last = `HTTP ${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(300);
  }
  shout(`${name} not ready after ${READY_TIMEOUT_MS / 1000}s (${url}: ${last})`);
  return false;
}

/** Starts the embedded S3 and resolves with its endpoint once its bucket exists. */
function startEmbeddedS3(port, bucket) {
  const dir = path.join(stateDir, 's3');
  mkdirSync(dir, { recursive: true });
  return new Promise((resolve, reject) => {
    let ready = false;
    const entry = start(
      's3',
      S3_COLOUR,
      // s3rver's paginated listings need DES, which OpenSSL 3 keeps in the legacy provider.
      [
        '--openssl-legacy-provider',
        path.join(repoRoot, 'packages/embedded-s3/dist/cli.js'),
        '--dir',
        dir,
        '--port',
        String(port),
        '--bucket',
        bucket,
      ],
      (line) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m && !ready) {
          ready = true;
          resolve(m[1]);
        }
      },
    );
    entry.exited.then(() => {
      if (!ready) reject(new Error('embedded S3 exited before it was ready'));
    });
  });
}

async function main() {
  mkdirSync(stateDir, { recursive: true });
  if (!env.DATABASE_URL) {
    shout('DATABASE_URL is not set (scripts/quickstart.sh sets it); refusing to start');
    process.exit(1);
  }
  env.LOG_FORMAT ??= 'pretty';
  // Local runs listen on loopback only unless told otherwise.
  env.BIND_HOST ??= '127.0.0.1';
  for (const s of SERVICES) {
    if (env[s.portVar]) s.port = Number(env[s.portVar]);
    env[s.portVar] = String(s.port);
  }

  const busy = [];
  for (const s of SERVICES) if (await portInUse(s.port)) busy.push(`${s.name} (${s.port})`);
  if (busy.length > 0) {
    shout(
      `ports already in use: ${busy.join(', ')}. Another quickstart running? Set ` +
        `${SERVICES.map((s) => s.portVar).join(' / ')} to other ports.`,
    );
    process.exit(1);
  }

  let s3Endpoint = env.S3_ENDPOINT;
  if (!s3Endpoint) {
    const s3Port = Number(env.STRATA_S3_PORT || 4569);
    if (await portInUse(s3Port)) {
      shout(`port ${s3Port} (embedded S3) is in use; set STRATA_S3_PORT or S3_ENDPOINT`);
      process.exit(1);
    }
    env.S3_BUCKET ||= 'strata-models';
    say(`S3_ENDPOINT is unset: starting the embedded S3 (data in .strata/s3)`);
    s3Endpoint = await startEmbeddedS3(s3Port, env.S3_BUCKET);
    env.S3_ENDPOINT = s3Endpoint;
    env.S3_FORCE_PATH_STYLE = 'true';
    env.S3_ACCESS_KEY_ID = 'S3RVER';
    env.S3_SECRET_ACCESS_KEY = 'S3RVER';
    env.S3_REGION ||= 'us-east-1';
  } else {
    env.S3_BUCKET ||= 'strata-models';
    say(`using S3 at ${s3Endpoint} (bucket ${env.S3_BUCKET})`);
  }

  say('starting gateway, model-loader, inference-worker, telemetry-sender');
  for (const s of SERVICES) {
    start(s.name, s.colour, [path.join(repoRoot, 'apps', s.name, 'dist/main.js')]);
  }

  const urls = Object.fromEntries(SERVICES.map((s) => [s.name, `http://127.0.0.1:${s.port}`]));
  const ready = await Promise.all(
    SERVICES.map(async (s) => {
      const ok = await waitReady(s.name, `${urls[s.name]}/readyz`);
      if (ok) say(`${s.name} is ready`);
      return ok;
    }),
  );
  if (stopping) return;
  if (!ready.every(Boolean)) {
    await shutdown(1, 'not every service became ready');
    return;
  }

  const lines = [
    '',
    'Strata is running. Every service answers /healthz, /readyz and /metrics:',
    ...SERVICES.map((s) => `  ${s.name.padEnd(17)} ${urls[s.name]}`),
    `  ${'S3'.padEnd(17)} ${s3Endpoint} (bucket ${env.S3_BUCKET})`,
    `  ${'Redis'.padEnd(17)} ${env.REDIS_URL || 'redis://127.0.0.1:6379'}`,
    `  ${'Postgres'.padEnd(17)} ${env.DATABASE_URL.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}`,
    '',
  ];
  for (const line of lines) say(line);

  if (env.STRATA_SKIP_SEED !== '1') {
    try {
      const seeded = await seedDemo({ repoRoot, env: { ...env }, urls, s3Endpoint, log: say });
      for (const line of seeded?.lines ?? []) say(line);
    } catch (err) {
      shout(`demo seeding failed: ${err.stack ?? err}`);
      await shutdown(1);
      return;
    }
  }
  say('Press Ctrl-C to stop everything.');
}

main().catch((err) => {
  shout(`quickstart failed: ${err.stack ?? err}`);
  void shutdown(1);
});
