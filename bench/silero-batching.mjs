#!/usr/bin/env node
// Issue #4: Silero VAD v5 throughput through the gateway at 64 concurrent clients, dynamic
// batching on vs off, measured in the same run on the same processes. Two versions of one model:
// v1 with the `batching` section of environment.json the inference-worker README documents
// (enabled, maxSize 16, maxDelayMs 0 — the default: no timer, batches form while a run is in
// progress and at the gateway while its jobs are in flight; input axis 0, state axis 1, sr none;
// outputs output axis 0, stateN axis 1), v2 with `{"batching": {"enabled": false}}`. Rounds alternate on/off so drift on
// the noisy machine hits both alike.
//
//   pnpm build
//   node bench/silero-batching.mjs [--clients 64] [--seconds 8] [--rounds 3] [--json 1]
//
// Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (STRATA_TEST_* override them).
// Binary tensor requests by default (`--json 1`: JSON bodies). Besides requests/s and latency it
// reports the mean batch the worker ran (its strata_infer_batch_size), the CPU time each process
// spent per request, and, for scale, ONNX Runtime alone in this process at batch 1 and 16.
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
const { buildInferRequestBody, parseInferResponseBody } = require('@strata/tensors');

const CLIENTS = arg('clients', 64);
const SECONDS = arg('seconds', 8);
const ROUNDS = arg('rounds', 3);
const JSON_BODIES = arg('json', 0) === 1;
const WARMUP_SECONDS = 2;
const QUIET_WAIT = arg('quiet-wait', 600);
// Most seconds each round waits for a quiet machine before it measures anyway.
const ROUND_QUIET_WAIT = arg('round-quiet-wait', 120);

const BATCHING_ON = {
  batching: {
    enabled: true,
    maxSize: 16,
    maxDelayMs: 0,
    axes: {
      inputs: { input: 0, state: 1, sr: null },
      outputs: { output: 0, stateN: 1 },
    },
  },
};
const BATCHING_OFF = { batching: { enabled: false } };

function sileroInputs(seed) {
  const sr = Buffer.alloc(8);
  sr.writeBigInt64LE(16000n);
  return [
    {
      name: 'input',
      datatype: 'FP32',
      shape: [1, 512],
      data: Buffer.from(randomFloats(512, seed, 0.5).buffer),
    },
    {
      name: 'state',
      datatype: 'FP32',
      shape: [2, 1, 128],
      data: Buffer.from(randomFloats(256, seed + 1_000_003, 0.1).buffer),
    },
    { name: 'sr', datatype: 'INT64', shape: [], data: sr },
  ];
}

function ortFeeds(inputs, batch = 1) {
  const [input, state, sr] = inputs;
  const rep = (buf) => Buffer.concat(Array.from({ length: batch }, () => buf));
  // state is [2, N, 128]: repeat each of the two halves N times.
  const half = state.data.length / 2;
  const stateN = Buffer.concat([rep(state.data.subarray(0, half)), rep(state.data.subarray(half))]);
  const f32 = (b) => new Float32Array(new Uint8Array(b).buffer);
  return {
    input: new ort.Tensor('float32', f32(rep(input.data)), [batch, 512]),
    state: new ort.Tensor('float32', f32(stateN), [2, batch, 128]),
    sr: new ort.Tensor('int64', new BigInt64Array(new Uint8Array(sr.data).buffer), []),
  };
}

/** Items/s of ONNX Runtime alone (this process, 1 thread) at one batch size, for ~`ms`. */
async function directThroughput(session, inputs, batch, ms) {
  const feeds = ortFeeds(inputs, batch);
  for (let i = 0; i < 50; i++) await session.run(feeds);
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await session.run(feeds);
    runs++;
  }
  return round((runs * batch * 1000) / (performance.now() - t0), 0);
}

async function main() {
  const quiet = await waitForQuiet({ maxSeconds: QUIET_WAIT });
  const started = Date.now();
  const stack = new InferStack({
    label: 'silero',
    // 64 fixed bodies sent over and over: with the prediction cache on, every request after the
    // first round is a cache hit and no batch ever runs (bench/cache-hit.mjs measures hits).
    gateway: { DISABLE_INFERENCE_CACHE: 'true' },
  });
  const client = httpClient(CLIENTS);
  let session;
  try {
    await stack.start();
    const weights = await fs.readFile(MODELS.silero);
    const on = await stack.publish('silero', {
      'weights.onnx': weights,
      'environment.json': JSON.stringify(BATCHING_ON),
    });
    const off = await stack.publish('silero', {
      'weights.onnx': weights,
      'environment.json': JSON.stringify(BATCHING_OFF),
    });
    const key = await stack.apiKey(['infer']);
    const redisPid = await stack.redisPid();

    const requests = Array.from({ length: CLIENTS }, (_, i) => {
      const inputs = sileroInputs(1000 + i);
      const built = buildInferRequestBody(
        inputs,
        JSON_BODIES ? {} : { binaryInputs: true, parameters: { binary_data_output: true } },
      );
      const headers = { authorization: `Bearer ${key}` };
      if (built.headerLength === undefined) headers['content-type'] = 'application/json';
      else {
        headers['content-type'] = 'application/octet-stream';
        headers['inference-header-content-length'] = String(built.headerLength);
      }
      return { inputs, body: built.body, headers };
    });
    const urlOf = (version) => `${stack.gateway.url}/v2/models/silero/versions/${version}/infer`;
    const post = (version, i) =>
      client.request(urlOf(version), {
        method: 'POST',
        headers: requests[i].headers,
        body: requests[i].body,
      });

    // Batched answers are the model's answers: 64 distinct requests at once, each against ORT.
    session = await ort.InferenceSession.create(MODELS.silero, ORT_OPTIONS);
    const answers = await Promise.all(requests.map((_, i) => post(on.version, i)));
    let equal = 0;
    for (const [i, res] of answers.entries()) {
      if (res.status !== 200) throw new Error(`silero: ${res.status} ${res.body}`);
      const got = parseInferResponseBody(res.body, res.headers['inference-header-content-length']);
      const want = await session.run(ortFeeds(requests[i].inputs));
      const same = got.outputs.every((o) => {
        const w = want[o.name].data;
        const a = new Float32Array(new Uint8Array(o.data).buffer);
        return a.length === w.length && a.every((v, k) => v === w[k]);
      });
      if (same) equal++;
    }

    const pids = {
      gateway: stack.gateway.pid,
      worker: stack.worker.pid,
      loader: stack.loader.pid,
      telemetry: stack.telemetry.pid,
      redis: redisPid,
      bench: process.pid,
    };
    const scrapeWorker = async () =>
      (await client.request(`${stack.worker.url}/metrics`)).body.toString();

    /** 64 closed-loop clients for `seconds`; every request bounded by the client's timeout. */
    async function load(version, seconds, record) {
      const latencies = [];
      let errors = 0;
      const before = record && {
        page: await scrapeWorker(),
        cpu: cpuAll(),
        busy: machineBusyMs(),
      };
      const t0 = performance.now();
      const end = t0 + seconds * 1000;
      await Promise.all(
        requests.map(async (_, i) => {
          while (performance.now() < end) {
            const t = performance.now();
            const res = await post(version, i).catch(() => undefined);
            if (res?.status === 200) latencies.push(performance.now() - t);
            else errors++;
          }
        }),
      );
      const elapsed = (performance.now() - t0) / 1000;
      if (!record) return undefined;
      const cpu = cpuAll();
      const busy = machineBusyMs() - before.busy;
      const page = await scrapeWorker();
      const d = (name) =>
        metricValue(page, name, { model: 'silero' }) -
        metricValue(before.page, name, { model: 'silero' });
      return {
        latencies,
        errors,
        elapsed,
        runs: d('strata_infer_batch_size_count'),
        items: d('strata_infer_batch_size_sum'),
        cpu: Object.fromEntries(Object.keys(pids).map((k) => [k, cpu[k] - before.cpu[k]])),
        busy,
      };
    }
    function cpuAll() {
      return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)]));
    }

    await load(on.version, WARMUP_SECONDS, false);
    await load(off.version, WARMUP_SECONDS, false);
    const modes = { on: on.version, off: off.version };
    const acc = { on: [], off: [] };
    const roundQuiet = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
        // Our services idle between rounds: what is busy now is somebody else's work.
        roundQuiet.push(await waitForQuiet({ maxSeconds: ROUND_QUIET_WAIT, windowMs: 1000 }));
        acc[mode].push(await load(modes[mode], SECONDS, true));
      }
    }

    const direct = {
      batch1ItemsPerSec: await directThroughput(session, requests[0].inputs, 1, 2000),
      batch16ItemsPerSec: await directThroughput(session, requests[0].inputs, 16, 2000),
    };
    const report = (mode) => {
      const rounds = acc[mode];
      const ok = rounds.reduce((s, x) => s + x.latencies.length, 0);
      const secs = rounds.reduce((s, x) => s + x.elapsed, 0);
      const runs = rounds.reduce((s, x) => s + x.runs, 0);
      const items = rounds.reduce((s, x) => s + x.items, 0);
      // Answers without ONNX Runtime runs would measure something else (e.g. cached answers).
      if (runs === 0 || items < ok)
        throw new Error(
          `batching ${mode}: the worker ran ${items} items in ${runs} runs for ${ok} answers`,
        );
      const cpu = {};
      for (const x of rounds)
        for (const [k, v] of Object.entries(x.cpu)) cpu[k] = (cpu[k] ?? 0) + v;
      return {
        version: modes[mode],
        requestsPerSec: round(ok / secs, 0),
        perRoundRequestsPerSec: rounds.map((x) => round(x.latencies.length / x.elapsed, 0)),
        errors: rounds.reduce((s, x) => s + x.errors, 0),
        latencyMs: summary(rounds.flatMap((x) => x.latencies)),
        meanBatch: round(items / runs, 2),
        ortRunsPerSec: round(runs / secs, 0),
        cpuMsPerRequest: Object.fromEntries(
          Object.entries(cpu).map(([k, v]) => [k, round(v / ok, 3)]),
        ),
        cpuCoresBusy: round(Object.values(cpu).reduce((a, b) => a + b, 0) / 1000 / secs, 2),
        // Cores other people's work took meanwhile (machine busy minus our processes).
        foreignCores: round(
          Math.max(
            0,
            rounds.reduce((s, x) => s + x.busy, 0) - Object.values(cpu).reduce((a, b) => a + b, 0),
          ) /
            1000 /
            secs,
          2,
        ),
      };
    };
    const results = { on: report('on'), off: report('off') };
    const ratio = round(results.on.requestsPerSec / results.off.requestsPerSec, 2);
    // CPU-bound on 2 cores, throughput goes as 1 / (CPU per request of all our processes): this
    // ratio does not move with other people's load the way requests/s does.
    const cpuPerRequest = (mode) =>
      Object.values(results[mode].cpuMsPerRequest).reduce((a, b) => a + b, 0);
    const cpuRatio = round(cpuPerRequest('off') / cpuPerRequest('on'), 2);
    const output = {
      bench: 'silero-batching',
      date: new Date().toISOString(),
      machine: machine(),
      settings: {
        clients: CLIENTS,
        secondsPerRound: SECONDS,
        rounds: ROUNDS,
        bodies: JSON_BODIES ? 'json' : 'binary',
        bodyBytes: requests[0].body.length,
        batchingOn: BATCHING_ON.batching,
      },
      batchedAnswersEqualDirect: `${equal}/${CLIENTS}`,
      results,
      ratioOnOverOff: ratio,
      cpuMsPerRequestTotal: { on: round(cpuPerRequest('on')), off: round(cpuPerRequest('off')) },
      cpuRatioOffOverOn: cpuRatio,
      roundsStartedQuiet: `${roundQuiet.filter((q) => q.quiet).length}/${roundQuiet.length}`,
      directOrt: {
        ...direct,
        ratio: round(direct.batch16ItemsPerSec / direct.batch1ItemsPerSec, 2),
      },
      quietAtStart: quiet,
      wallSeconds: round((Date.now() - started) / 1000, 1),
    };
    console.log(JSON.stringify(output, null, 2));
    console.log(
      `\nsummary: batching on ${results.on.requestsPerSec} req/s (mean batch ${results.on.meanBatch}), ` +
        `off ${results.off.requestsPerSec} req/s → ×${ratio} (goal ≥ 1.5: ${ratio >= 1.5 ? 'met' : 'missed'}); ` +
        `CPU per request off/on ×${cpuRatio}; ` +
        `ORT alone batch 16 vs 1: ×${output.directOrt.ratio}`,
    );
  } finally {
    client.close();
    await session?.release().catch(() => undefined);
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
