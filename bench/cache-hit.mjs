#!/usr/bin/env node
// Issue #5: cache-hit throughput of the gateway (`POST /v2/models/{m}/infer`, answered from the
// prediction cache) against a bare Fastify + Redis GET server answering the same request with the
// same payload (bench/bare-fastify-redis.mjs), measured in the same run, interleaved block by
// block; plus hit latency p50/p99 at concurrency 1 and under load.
//
//   pnpm build
//   node bench/cache-hit.mjs [--concurrency 32] [--seconds 5] [--rounds 4] [--latency-n 2000]
//                            [--model cls|silero]
//
// Model (`--model`): `cls` (default), the PaddleOCR direction classifier (x f32 [1,3,48,192],
// 110 KiB of input, which the gateway hashes and the baseline only reads); `silero`, Silero VAD
// v5 (input f32 [1,512], state f32 [2,1,128], sr int64: 3 KiB), where the fixed per-request
// work weighs most. Inputs are sent as binary tensors (Inference-Header-Content-Length), binary
// outputs asked. The gateway does
// everything it does for any hit: auth (in-process cache), metadata (in-process), rate-limit
// check (off: RATE_LIMIT_DEFAULT 0), body parsing and validation, sha256 of the inputs,
// generation GET + entry GET in Redis, the binary answer, metrics, one usage event (drained by
// the telemetry-sender, as in a deployment). The load generator runs in this process (its CPU
// competes with both servers alike).
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import {
  InferStack,
  MODELS,
  arg,
  cpuMsOf,
  httpClient,
  machine,
  randomFloats,
  require,
  round,
  summary,
  waitForQuiet,
} from './infer-stack.mjs';

const { buildInferRequestBody } = require('@strata/tensors');
const { RedisKeys } = require('@strata/cache-keys');
const { Redis } = require('ioredis');
const { testRedisUrl, freePort } = {
  ...require('@strata/testing/dist/test-targets.util'),
  ...require('@strata/testing/dist/free-port.util'),
};

const CONCURRENCY = arg('concurrency', 32);
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 4);
const LATENCY_N = arg('latency-n', 2000);
const QUIET_WAIT = arg('quiet-wait', 300);
const SHAPE = [1, 3, 48, 192];
const MODEL = process.argv.includes('--model')
  ? process.argv[process.argv.indexOf('--model') + 1]
  : 'cls';
if (MODEL !== 'cls' && MODEL !== 'silero') throw new Error('--model cls|silero');

/** The model to publish and one request's input tensors. */
function benchModel() {
  if (MODEL === 'cls') {
    const n = SHAPE.reduce((a, b) => a * b);
    return {
      weights: MODELS.classifier,
      label: 'ch_ppocr_mobile_v2.0_cls (x f32 [1,3,48,192], binary tensors)',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: SHAPE, data: Buffer.from(randomFloats(n, 7).buffer) },
      ],
    };
  }
  const sr = Buffer.alloc(8);
  sr.writeBigInt64LE(16000n);
  return {
    weights: MODELS.silero,
    label: 'silero_vad_v5 (input f32 [1,512], state f32 [2,1,128], sr int64; binary tensors)',
    inputs: [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [1, 512],
        data: Buffer.from(randomFloats(512, 7, 0.5).buffer),
      },
      {
        name: 'state',
        datatype: 'FP32',
        shape: [2, 1, 128],
        data: Buffer.from(randomFloats(256, 8, 0.1).buffer),
      },
      { name: 'sr', datatype: 'INT64', shape: [], data: sr },
    ],
  };
}

/**
 * Requests answered in `seconds` by `concurrency` loops; latencies of each (ms); CPU ms each of
 * `pids` spent per answered request (robust to other load on the machine, unlike req/s).
 */
async function load(client, url, req, { concurrency, seconds, pids = {} }) {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)]));
  const until = performance.now() + seconds * 1000;
  const latencies = [];
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const res = await client.request(url, req);
        if (res.status !== 200 || res.headers['x-strata-cache'] !== 'hit') failures++;
        else latencies.push(performance.now() - t0);
      }
    }),
  );
  const cpuPerRequestMs = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [
      k,
      round((cpuMsOf(pid) - cpu0[k]) / latencies.length, 4),
    ]),
  );
  return { rps: latencies.length / seconds, latencies, failures, cpuPerRequestMs };
}

async function startBaseline(port, key, headerLength) {
  const child = spawn(
    process.execPath,
    [
      new URL('./bare-fastify-redis.mjs', import.meta.url).pathname,
      String(port),
      testRedisUrl(),
      key,
      String(headerLength),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
  return child;
}

async function main() {
  const quiet = await waitForQuiet({ maxSeconds: QUIET_WAIT });
  const stack = new InferStack({
    label: 'hit',
    gateway: {
      PREDICTION_CACHE_TTL: '3600',
    },
  });
  const client = httpClient(CONCURRENCY);
  let baseline;
  const redis = new Redis(testRedisUrl());
  try {
    await stack.start();
    const model = benchModel();
    await stack.publish(MODEL, { 'weights.onnx': await fs.readFile(model.weights) });
    const key = await stack.apiKey();
    const built = buildInferRequestBody(model.inputs, {
      binaryInputs: true,
      parameters: { binary_data_output: true },
    });
    const req = {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(built.headerLength),
      },
      body: built.body,
    };
    const gatewayUrl = `${stack.gateway.url}/v2/models/${MODEL}/infer`;
    const first = await client.request(gatewayUrl, req);
    if (first.status !== 200 || first.headers['x-strata-cache'] !== 'miss') {
      throw new Error(
        `first request: ${first.status} ${first.headers['x-strata-cache']} ${first.body.toString().slice(0, 200)}`,
      );
    }
    // The baseline answers with the very bytes of the gateway's hit.
    const payloadKey = new RedisKeys(stack.prefix).blob('bench-payload');
    const hit = await client.request(gatewayUrl, req);
    await redis.set(payloadKey, hit.body);
    const port = await freePort();
    baseline = await startBaseline(
      port,
      payloadKey,
      hit.headers['inference-header-content-length'],
    );
    const baselineUrl = `http://127.0.0.1:${port}/v2/models/${MODEL}/infer`;

    // Warm both (JIT, sockets).
    await load(client, gatewayUrl, req, { concurrency: CONCURRENCY, seconds: 2 });
    await load(client, baselineUrl, req, { concurrency: CONCURRENCY, seconds: 2 });

    const redisPid = await stack.redisPid();
    const gatewayPids = {
      gateway: stack.gateway.pid,
      telemetry: stack.telemetry.pid,
      redis: redisPid,
      client: process.pid,
    };
    const baselinePids = { server: baseline.pid, redis: redisPid, client: process.pid };
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const g = await load(client, gatewayUrl, req, {
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        pids: gatewayPids,
      });
      const b = await load(client, baselineUrl, req, {
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        pids: baselinePids,
      });
      rounds.push({ gateway: g, baseline: b });
      process.stderr.write(
        `round ${r + 1}: gateway ${round(g.rps, 0)} req/s, baseline ${round(b.rps, 0)} req/s, ratio ${round(g.rps / b.rps, 3)}; cpu ms/req gateway ${JSON.stringify(g.cpuPerRequestMs)} baseline ${JSON.stringify(b.cpuPerRequestMs)}\n`,
      );
    }
    const seq = { gateway: [], baseline: [] };
    for (let i = 0; i < LATENCY_N; i++) {
      for (const [name, url] of [
        ['gateway', gatewayUrl],
        ['baseline', baselineUrl],
      ]) {
        const t0 = performance.now();
        const res = await client.request(url, req);
        if (res.status === 200) seq[name].push(performance.now() - t0);
      }
    }
    const ratios = rounds.map((r) => r.gateway.rps / r.baseline.rps).sort((a, b) => a - b);
    const gatewayAll = rounds.flatMap((r) => r.gateway.latencies);
    const baselineAll = rounds.flatMap((r) => r.baseline.latencies);
    const result = {
      bench: 'cache-hit',
      date: new Date().toISOString(),
      machine: machine(),
      quietAtStart: quiet,
      model: model.label,
      concurrency: CONCURRENCY,
      secondsPerBlock: SECONDS,
      rounds: ROUNDS,
      throughput: {
        gatewayRps: round(rounds.reduce((a, r) => a + r.gateway.rps, 0) / ROUNDS, 0),
        baselineRps: round(rounds.reduce((a, r) => a + r.baseline.rps, 0) / ROUNDS, 0),
        ratioMedian: round(ratios[Math.floor(ratios.length / 2)], 3),
        ratioRange: [round(ratios[0], 3), round(ratios[ratios.length - 1], 3)],
        goal: '>= 0.8',
        failures: rounds.reduce((a, r) => a + r.gateway.failures + r.baseline.failures, 0),
      },
      cpuPerRequestMs: {
        gateway: rounds.map((r) => r.gateway.cpuPerRequestMs),
        baseline: rounds.map((r) => r.baseline.cpuPerRequestMs),
      },
      latencyUnderLoadMs: { gateway: summary(gatewayAll), baseline: summary(baselineAll) },
      latencyConcurrency1Ms: { gateway: summary(seq.gateway), baseline: summary(seq.baseline) },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    client.close();
    baseline?.kill('SIGTERM');
    redis.disconnect();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
