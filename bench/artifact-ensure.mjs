#!/usr/bin/env node
// Artifact cache bench: cold `ensure` of a 50 MB artifact through a real model-loader process
// (queue, registry lookup, manifest, S3 download, sha256, fsync, atomic rename) against a raw
// GetObject of the same bytes to a file, in the same run; then warm `ensure` latency, as a worker
// asks (holding a lease: answered from the loader's ready list) and without a lease (the queue).
//
// s3rver runs in a process of its own (`--s3-in-process`: in this process, as before 2026-11-23).
// Baselines, each run right after every cold ensure (same bytes, same s3rver, to a file):
//   rawGetObjectMs     the goal's baseline: GetObject streamed to a file by this process (no
//                      hash, no fsync).
//   rawDurableMs       the same, then fdatasync: the floor of any crash-safe copy on this disk.
//   rawOwnProcessMs    the same GetObject from a separate, warm Node process (like the loader,
//                      whose bytes cross between two processes and cores): on 2 busy cores it is
//                      sometimes slower, sometimes faster than the in-process copy.
//   coldLoaderCpuMs    CPU the loader process used per cold ensure (less noisy than wall time).
//
//   pnpm turbo build --filter @strata/model-loader
//   node --openssl-legacy-provider bench/artifact-ensure.mjs [--mb 50] [--cold 9] [--warm 2000] [--quiet-wait 300]
//     [--loader-b apps/model-loader/<dir>/dist]  (A/B: another build of the loader, see LOADER_B)
//
// Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (STRATA_TEST_* override them).
// Waits (up to --quiet-wait seconds, 0 = not at all) for the machine to be quiet before timing,
// and reports the cores other processes took while the cold runs were timed (`foreignCores`).
// Prints one JSON object (numbers in ms) and the ratios against the goals.
import { createHash, randomBytes } from 'node:crypto';
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Resolve the workspace packages (built dist) and third-party modules the way the loader does.
const require = createRequire(path.join(root, 'apps/model-loader/package.json'));
// The loader runs with these V8 settings (apps/model-loader/src/v8-heap.setup.ts: they keep the
// 64 KiB socket buffers of a download from setting off mark-compacts); loading the built module
// sets them in this process (the in-process raw copy) and the raw child (this script again), and
// the s3rver process gets them on its command line, so the baselines are not slowed by the GC
// behaviour the loader avoids.
const { V8_HEAP_FLAGS } = require(path.join(root, 'apps/model-loader/dist/v8-heap.setup.js'));
const { Redis } = require('ioredis');
const layout = require('@strata/artifact-layout');
const { ModelRegistryRepository, S3ArtifactStore } = require('@strata/model-registry');
const { createPrismaClient } = require('@strata/db');
const { startEmbeddedS3, EMBEDDED_S3_CREDENTIALS } = require('@strata/embedded-s3');
const { ModelLeases, ModelLoaderClient } = require('@strata/loader-client');
// Single modules of the test harness: its index also loads the Jest lifecycle suite.
const testing = {
  ...require('@strata/testing/dist/test-database.fixture'),
  ...require('@strata/testing/dist/service-env.factory'),
  ...require('@strata/testing/dist/service-process.fixture'),
  ...require('@strata/testing/dist/unique-id.util'),
  ...require('@strata/testing/dist/test-targets.util'),
  ...require('@strata/testing/dist/redis-cleanup.util'),
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const MB = arg('mb', 50);
const COLD_RUNS = arg('cold', 5);
const WARM_RUNS = arg('warm', 2000);
const QUIET_WAIT_S = arg('quiet-wait', 300);
const BUCKET = 'strata-bench';
// s3rver in a process of its own (default), as S3 is to every real client: in the bench process,
// a GetObject from that same process never crossed a process boundary and set a baseline no
// separate service can match (`--s3-in-process` keeps the old arrangement for comparison).
const S3_IN_PROCESS = process.argv.includes('--s3-in-process');
// `--loader-b DIR`: a second model-loader built elsewhere (its `dist/`, placed inside
// apps/model-loader so it resolves the same node_modules) runs next to the current one, on a
// cache domain and directory of its own; its cold ensures alternate with the current one's, so
// two builds are compared under the same noise (`loaderB` in the output, paired per round).
const LOADER_B = (() => {
  const i = process.argv.indexOf('--loader-b');
  return i > 0 ? path.resolve(process.argv[i + 1]) : undefined;
})();
const PREFIX = 'bench';

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Busy CPU time (ms) of the whole machine so far, from /proc/stat (Linux; not idle, iowait). */
function machineBusyMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 9).map(Number);
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1000) / 100;
}

/** CPU time (ms) a process has used, from /proc (user + system). */
function cpuMsOf(pid) {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Waits (at most `maxSeconds`) until under `maxCores` cores are busy over 3 s. */
async function waitForQuiet(maxSeconds, maxCores = 0.3) {
  const deadline = Date.now() + maxSeconds * 1000;
  for (;;) {
    const b0 = machineBusyMs();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    const cores = (machineBusyMs() - b0) / (performance.now() - t0);
    if (cores <= maxCores || Date.now() > deadline)
      return { quiet: cores <= maxCores, busyCores: round(cores) };
    process.stderr.write(`waiting for a quiet machine (${round(cores)} cores busy)\n`);
  }
}

async function main() {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-bench-artifact-'));
  const s3 = S3_IN_PROCESS
    ? await startEmbeddedS3({ directory: path.join(work, 's3'), port: 0, buckets: [BUCKET] })
    : await startS3Process(path.join(work, 's3'));
  const db = await testing.createTestDatabase('bench');
  const prisma = createPrismaClient({ databaseUrl: db.url });
  const repo = new ModelRegistryRepository(prisma);
  const store = new S3ArtifactStore({
    bucket: BUCKET,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...EMBEDDED_S3_CREDENTIALS },
  });
  const prefix = testing.testRedisPrefix('bench');
  const cacheDir = path.join(work, 'cache');
  let loader;
  let loaderB;
  let clientB;
  let rawChild;
  const conns = [];
  let client;
  try {
    // One 50 MB version, registered the way a publish would.
    const src = path.join(work, 'src');
    await fs.mkdir(src);
    const weights = path.join(src, 'weights.onnx');
    const fh = await fs.open(weights, 'w');
    for (let left = MB * 1024 * 1024; left > 0; left -= 4 << 20)
      await fh.write(randomBytes(Math.min(4 << 20, left)));
    await fh.close();
    const model = 'bench-model';
    const created = await repo.createVersion({
      model,
      taskType: 'classification',
      prepare: (version) => ({
        storagePrefix: layout.s3VersionPrefix(PREFIX, model, version),
        manifestDigest: '0'.repeat(64),
        sizeBytes: MB * 1024 * 1024,
        metadata: { taskType: 'classification', inputs: [], outputs: [] },
      }),
    });
    const version = created.version;
    const manifest = await layout.buildManifest(src, { model, version });
    const keys = layout.s3Keys(PREFIX, model, version);
    await store.uploadFile(keys.weights, weights);
    await store.uploadBuffer(keys.manifest, Buffer.from(layout.serializeManifest(manifest)));
    await repo.markReady(model, version, {
      details: { manifestDigest: layout.manifestDigest(manifest), sizeBytes: MB * 1024 * 1024 },
    });

    const env = await testing.serviceEnv({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: prefix,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX: PREFIX,
      CACHE_DOMAIN: 'bench',
      MODEL_CACHE_DIR: cacheDir,
      LOG_LEVEL: process.env.BENCH_LOADER_LOG ?? 'warn',
    });
    loader = testing.spawnService('model-loader', env);
    await loader.waitForReady();
    conns.push(
      new Redis(testing.testRedisUrl(), { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
      new Redis(testing.testRedisUrl(), { maxRetriesPerRequest: null }),
    );
    const clientOf = async (domain) => {
      const c = new ModelLoaderClient({
        connection: conns[0],
        eventsConnection: conns[1],
        keyPrefix: prefix,
        domain,
      });
      await c.ready();
      return c;
    };
    client = await clientOf('bench');
    if (LOADER_B) {
      const envB = {
        ...env,
        // A free port of its own (serviceEnv picks one).
        MODEL_LOADER_PORT: (await testing.serviceEnv()).MODEL_LOADER_PORT,
        CACHE_DOMAIN: 'bench-b',
        MODEL_CACHE_DIR: `${cacheDir}-b`,
      };
      loaderB = testing.spawnProcess({
        name: 'model-loader (b)',
        script: path.join(LOADER_B, 'main.js'),
        env: envB,
        port: Number(envB.MODEL_LOADER_PORT),
      });
      await loaderB.waitForReady();
      clientB = await clientOf('bench-b');
      await clientB.ensure({ model, version }, { timeoutMs: 120_000 });
    }

    rawChild = startRawChild(s3.endpoint);
    // Warm-up (connections, JIT, page cache of s3rver's file) before anything is timed.
    await rawGet(store, keys.weights, path.join(work, 'raw-warmup'));
    await rawChild.get(keys.weights, path.join(work, 'raw-child-warmup'));
    await client.ensure({ model, version }, { timeoutMs: 120_000 });

    const quiet = QUIET_WAIT_S > 0 ? await waitForQuiet(QUIET_WAIT_S) : undefined;
    const busy0 = machineBusyMs();
    const ownCpu = () =>
      cpuMsOf(process.pid) +
      cpuMsOf(loader.pid) +
      cpuMsOf(rawChild.pid) +
      (loaderB ? cpuMsOf(loaderB.pid) : 0) +
      (s3.pid === undefined ? 0 : cpuMsOf(s3.pid));
    const own0 = ownCpu();
    const timed0 = performance.now();
    const raw = [];
    const rawDurable = [];
    const rawOwnProcess = [];
    const cold = [];
    const coldCpu = [];
    const coldB = [];
    const coldCpuB = [];
    /** One cold ensure: the version cleared first; wall time and the loader's CPU recorded. */
    const coldEnsure = async (c, proc, times, cpus) => {
      await c.clear(model);
      const cpu0 = cpuMsOf(proc.pid);
      const t0 = performance.now();
      const got = await c.ensure({ model, version }, { timeoutMs: 120_000 });
      times.push(performance.now() - t0);
      cpus.push(cpuMsOf(proc.pid) - cpu0);
      if (got.cached) throw new Error('expected a cold ensure');
    };
    for (let i = 0; i < COLD_RUNS; i++) {
      // B first on even rounds, second on odd ones: neither always follows the raw copies.
      const runB = () => clientB && coldEnsure(clientB, loaderB, coldB, coldCpuB);
      if (i % 2 === 0) await runB();
      // Alternate so drift on a noisy machine hits both alike.
      await coldEnsure(client, loader, cold, coldCpu);
      let t = performance.now();
      await rawGet(store, keys.weights, path.join(work, `raw-${i}`));
      raw.push(performance.now() - t);
      await fs.rm(path.join(work, `raw-${i}`));
      // The same copy made durable (fdatasync before it counts), as the loader must before its
      // rename: the floor of any crash-safe cache on this disk. Not the goal's baseline.
      t = performance.now();
      await rawGet(store, keys.weights, path.join(work, `raw-durable-${i}`), { sync: true });
      rawDurable.push(performance.now() - t);
      await fs.rm(path.join(work, `raw-durable-${i}`));
      t = performance.now();
      await rawChild.get(keys.weights, path.join(work, `raw-child-${i}`));
      rawOwnProcess.push(performance.now() - t);
      await fs.rm(path.join(work, `raw-child-${i}`));
      if (i % 2 === 1) await runB();
    }
    const timedMs = performance.now() - timed0;
    const foreignCores = (machineBusyMs() - busy0 - (ownCpu() - own0)) / timedMs;
    const check = await sha256(
      path.join(cacheDir, 'models', model, String(version), 'weights.onnx'),
    );
    if (check !== manifest.files[0].sha256) throw new Error('the cached copy does not match');

    // Warm: how a worker asks (it holds a lease on the version first, so a version the loader
    // has verified is answered from the loader's ready list in Redis) and, for comparison, a
    // caller without a lease, which goes through the queue to the loader.
    const holder = 'bench-worker';
    await new ModelLeases(conns[0], prefix).acquireLease('bench', model, version, holder, 600_000);
    const warmRuns = async (options, via) => {
      const ms = [];
      for (let i = 0; i < WARM_RUNS; i++) {
        const t = performance.now();
        const got = await client.ensure({ model, version }, options);
        ms.push(performance.now() - t);
        if (!got.cached || got.via !== via) throw new Error(`expected a warm ensure via ${via}`);
      }
      // Same, 16 in flight: throughput of hits.
      const t0 = performance.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (done < WARM_RUNS) {
            done++;
            await client.ensure({ model, version }, options);
          }
        }),
      );
      return { ms, rate: WARM_RUNS / ((performance.now() - t0) / 1000) };
    };
    const warmLeased = await warmRuns({ leaseHolder: holder }, 'index');
    const warmQueue = await warmRuns({}, 'loader');
    const warm = warmLeased.ms;
    const warmRate = warmLeased.rate;
    const pct = (xs) => ({
      p50: round(quantile(xs, 0.5), 3),
      p90: round(quantile(xs, 0.9), 3),
      p99: round(quantile(xs, 0.99), 3),
    });

    const coldMedian = median(cold);
    const rawMedian = median(raw);
    const result = {
      bench: 'artifact-ensure',
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        memGiB: round(os.totalmem() / 2 ** 30, 1),
      },
      artifactMiB: MB,
      s3: S3_IN_PROCESS ? 'in the bench process' : 'own process',
      coldRuns: COLD_RUNS,
      rawGetObjectMs: { median: round(rawMedian), all: raw.map((x) => round(x)) },
      coldEnsureMs: { median: round(coldMedian), all: cold.map((x) => round(x)) },
      coldVsRaw: round(coldMedian / rawMedian),
      rawDurableMs: { median: round(median(rawDurable)), all: rawDurable.map((x) => round(x)) },
      rawDurableVsRaw: round(median(rawDurable) / rawMedian),
      coldVsRawDurable: round(coldMedian / median(rawDurable)),
      rawOwnProcessMs: {
        median: round(median(rawOwnProcess)),
        all: rawOwnProcess.map((x) => round(x)),
      },
      coldVsRawOwnProcess: round(coldMedian / median(rawOwnProcess)),
      coldVsRawOwnProcessPairedMedian: round(median(cold.map((c, i) => c / rawOwnProcess[i]))),
      coldLoaderCpuMs: { median: round(median(coldCpu), 0), all: coldCpu.map((x) => round(x, 0)) },
      // Each cold run against the raw run right after it: less sensitive to drifting load.
      coldVsRawPairedMedian: round(median(cold.map((c, i) => c / raw[i]))),
      ...(LOADER_B && {
        loaderB: {
          dist: path.relative(root, LOADER_B),
          coldEnsureMs: { median: round(median(coldB)), all: coldB.map((x) => round(x)) },
          coldVsRaw: round(median(coldB) / rawMedian),
          // B's time over the current loader's in the same round: < 1 means B is faster.
          bOverCurrentPairedMedian: round(median(coldB.map((b, i) => b / cold[i]))),
          coldLoaderCpuMs: {
            median: round(median(coldCpuB), 0),
            all: coldCpuB.map((x) => round(x, 0)),
          },
        },
      }),
      quietBeforeStart: quiet,
      foreignCores: round(Math.max(foreignCores, 0)),
      rawMiBps: round(MB / (rawMedian / 1000), 1),
      coldMiBps: round(MB / (coldMedian / 1000), 1),
      warmEnsureMs: { runs: WARM_RUNS, ...pct(warm) },
      warmEnsurePerSecondAt16: Math.round(warmRate),
      warmEnsureThroughQueueMs: { runs: WARM_RUNS, ...pct(warmQueue.ms) },
      warmEnsureThroughQueuePerSecondAt16: Math.round(warmQueue.rate),
    };
    if (process.env.BENCH_LOADER_LOG)
      for (const r of loader.logs.filter((l) => String(l.msg).startsWith('downloaded')))
        console.error(JSON.stringify(r));
    console.log(JSON.stringify(result, null, 2));
    console.log(
      `cold ensure / raw GetObject = ${result.coldVsRaw}x (goal <= 1.2x: ${result.coldVsRaw <= 1.2 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `cold ensure / raw GetObject from its own process = ${result.coldVsRawOwnProcess}x (paired ${result.coldVsRawOwnProcessPairedMedian}x); loader CPU per cold ensure ${result.coldLoaderCpuMs.median} ms`,
    );
    if (result.loaderB)
      console.log(
        `loader b (${result.loaderB.dist}): cold / raw GetObject = ${result.loaderB.coldVsRaw}x; b / current, paired = ${result.loaderB.bOverCurrentPairedMedian}; loader CPU per cold ensure ${result.loaderB.coldLoaderCpuMs.median} ms`,
      );
    console.log(
      `warm ensure p50 = ${result.warmEnsureMs.p50} ms (goal < 2 ms: ${result.warmEnsureMs.p50 < 2 ? 'met' : 'NOT met'}; ratio to goal ${round(result.warmEnsureMs.p50 / 2)}); without a lease, through the queue: ${result.warmEnsureThroughQueueMs.p50} ms`,
    );
  } finally {
    await client?.close();
    await clientB?.close();
    for (const c of conns) c.disconnect();
    await loader?.stop(10_000);
    await loaderB?.stop(10_000);
    rawChild?.stop();
    store.destroy();
    await prisma.$disconnect();
    await db.drop();
    await s3.stop();
    await testing.deleteRedisPrefix(prefix);
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The embedded S3 (s3rver) as its own process, through its CLI. */
async function startS3Process(directory) {
  const cli = path.join(root, 'packages/embedded-s3/dist/cli.js');
  const child = spawn(
    process.execPath,
    [
      // Given here, so its CLI does not restart itself under the flag (its pid is the server's).
      '--openssl-legacy-provider',
      ...V8_HEAP_FLAGS,
      cli,
      '--dir',
      directory,
      '--port',
      '0',
      '--bucket',
      BUCKET,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const endpoint = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1].replace(/\/$/, ''));
    });
    child.once('exit', (code) => reject(new Error(`embedded-s3 exited (${code}): ${out}`)));
  });
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** This script, forked with --raw-child: a separate process that GETs objects to files on demand. */
function startRawChild(endpoint) {
  const child = fork(fileURLToPath(import.meta.url), ['--raw-child', endpoint], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return {
    pid: child.pid,
    async get(key, file) {
      child.send({ key, file });
      const [reply] = await once(child, 'message');
      if (reply.error) throw new Error(`raw child: ${reply.error}`);
    },
    stop: () => child.kill(),
  };
}

async function rawChildMain(endpoint) {
  const store = new S3ArtifactStore({
    bucket: BUCKET,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...EMBEDDED_S3_CREDENTIALS },
  });
  process.on('message', (m) => {
    rawGet(store, m.key, m.file).then(
      () => process.send({}),
      (err) => process.send({ error: String(err?.message ?? err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

async function rawGet(store, key, file, { sync = false } = {}) {
  const out = await store.getStream(key);
  await pipeline(out.body, createWriteStream(file));
  if (sync) {
    const handle = await fs.open(file, 'r+');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}

async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of (await fs.open(file)).createReadStream()) hash.update(chunk);
  return hash.digest('hex');
}

const childAt = process.argv.indexOf('--raw-child');
(childAt > 0 ? rawChildMain(process.argv[childAt + 1]) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
