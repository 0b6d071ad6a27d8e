import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { buildInferRequestBody, parseInferResponseBody, type RawTensor } from '@strata/tensors';
import {
  REPO_ROOT,
  buildAddModel,
  buildTwoInTwoOutModel,
  encodeModel,
  serviceEnv,
  spawnService,
  testRedisEnv,
  waitFor,
  type SpawnedService,
} from '@strata/testing';
import { request, type Answer } from '../support/http-client';
import { Stack } from '../support/stack';

const INFER_TIMEOUT_MS = 30_000;

function f32(values: number[], shape: number[] = [1, values.length], name = 'x'): RawTensor {
  return { name, datatype: 'FP32', shape, data: Buffer.from(new Float32Array(values).buffer) };
}

function floats(t: RawTensor | undefined): number[] {
  if (!t) throw new Error('missing output');
  return [...new Float32Array(new Uint8Array(t.data).buffer)];
}

/** A model ONNX Runtime accepts at load time but fails on at run time when x and y differ in length. */
function mismatchedAddModel(): Buffer {
  return encodeModel({
    graph: {
      name: 'mismatched_add',
      nodes: [{ opType: 'Add', inputs: ['x', 'y'], outputs: ['z'] }],
      inputs: [
        { name: 'x', datatype: 'FP32', shape: ['n'] },
        { name: 'y', datatype: 'FP32', shape: ['m'] },
      ],
      outputs: [{ name: 'z', datatype: 'FP32', shape: ['n'] }],
    },
  });
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'packages/cli/dist/main.js'), ...args],
      {
        env,
        stdio: 'pipe',
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('prediction cache end to end (2 gateways, model-loader, inference-worker)', () => {
  const stack = new Stack({
    workers: 1,
    gateway: { INFER_TIMEOUT_MS: String(INFER_TIMEOUT_MS), PREDICTION_CACHE_TTL: '600' },
  });
  let gateway2: SpawnedService;
  let key: string;
  let adminKey: string;

  async function post(
    base: string,
    p: string,
    body: Buffer | string,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    return request(`${base}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body,
      timeoutMs: INFER_TIMEOUT_MS + 10_000,
    });
  }

  async function infer(
    target: string,
    inputs: RawTensor[],
    options: {
      base?: string;
      outputs?: string[];
      query?: string;
      headers?: Record<string, string>;
      parameters?: Record<string, unknown>;
    } = {},
  ) {
    const built = buildInferRequestBody(inputs, {
      binaryInputs: false,
      ...(options.parameters && { parameters: options.parameters }),
      ...(options.outputs && { outputs: options.outputs.map((name) => ({ name })) }),
    });
    const res = await post(
      options.base ?? stack.gateway.url,
      `/v2/models/${target}/infer${options.query ?? ''}`,
      built.body,
      options.headers,
    );
    if (res.status !== 200) {
      return {
        res,
        status: res.status,
        cache: res.headers['x-strata-cache'],
        outputs: new Map<string, RawTensor>(),
      };
    }
    const parsed = parseInferResponseBody(res.body, undefined);
    return {
      res,
      status: res.status,
      cache: res.headers['x-strata-cache'],
      rows: res.headers['x-strata-cache-rows'],
      outputs: new Map(parsed.outputs.map((o) => [o.name, o])),
    };
  }

  /** `run` jobs the workers finished for a model (any outcome), from their /metrics. */
  async function jobsRun(model: string): Promise<number> {
    let total = 0;
    for (const worker of stack.workers.values()) {
      const text = (await request(`${worker.url}/metrics`)).body.toString();
      for (const line of text.split('\n')) {
        if (!line.startsWith('strata_infer_jobs_total{')) continue;
        if (!line.includes(`model="${model}"`) || !line.includes('job="run"')) continue;
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }

  beforeAll(async () => {
    await stack.start();
    gateway2 = spawnService(
      'gateway',
      await serviceEnv({
        ...stack.shared,
        MODEL_CACHE_DIR: path.join(stack.work, 'gateway2-cache'),
        INFER_TIMEOUT_MS: String(INFER_TIMEOUT_MS),
        PREDICTION_CACHE_TTL: '600',
      }),
    );
    await gateway2.waitForReady(60_000);
    key = (await stack.apiKey(['infer'])).secret;
    adminKey = (await stack.apiKey(['admin'])).secret;
    await stack.publish('add', {
      'weights.onnx': buildAddModel({ shape: ['batch', 3], addend: 1 }),
    });
    await stack.publish('add', {
      'weights.onnx': buildAddModel({ shape: ['batch', 3], addend: 2 }),
    });
    await stack.publish('pair', { 'weights.onnx': buildTwoInTwoOutModel() });
    await stack.publish('short', {
      'weights.onnx': buildAddModel({ shape: ['batch', 3], addend: 5 }),
      'model_type.json': JSON.stringify({ task_type: 'regression', prediction_cache_ttl: 1 }),
    });
    await stack.publish('never', {
      'weights.onnx': buildAddModel({ shape: ['batch', 3], addend: 7 }),
      'model_type.json': JSON.stringify({ task_type: 'regression', prediction_cache_ttl: 0 }),
    });
    await stack.publish('broken', { 'weights.onnx': mismatchedAddModel() });
    await stack.publish(
      'embed',
      { 'weights.onnx': buildAddModel({ shape: ['batch', 4], addend: 10 }) },
      {
        taskType: 'embedding',
      },
    );
  }, 180_000);

  afterAll(async () => {
    await gateway2?.stop(15_000);
    await stack.stop();
  }, 60_000);

  it('answers a repeated request from the cache with the same outputs; never across versions', async () => {
    const x = f32([1, 2, 3]);
    const before = await jobsRun('add');
    const first = await infer('add/versions/1', [x]);
    expect([first.status, first.cache]).toEqual([200, 'miss']);
    expect(floats(first.outputs.get('y'))).toEqual([2, 3, 4]);
    const second = await infer('add/versions/1', [x]);
    expect(second.cache).toBe('hit');
    expect(second.outputs.get('y')?.data.equals(first.outputs.get('y')!.data)).toBe(true);
    // The other gateway shares the Redis entries.
    expect((await infer('add/versions/1', [x], { base: gateway2.url })).cache).toBe('hit');
    expect(await jobsRun('add')).toBe(before + 1);

    // Version 2 (latest) with the same inputs is another entry with other outputs.
    const v2 = await infer('add', [x]);
    expect(v2.cache).toBe('miss');
    expect(floats(v2.outputs.get('y'))).toEqual([3, 4, 5]);
    expect((await infer('add/versions/2', [x])).cache).toBe('hit');
    expect(floats((await infer('add/versions/1', [x])).outputs.get('y'))).toEqual([2, 3, 4]);
  });

  it('misses for other inputs and for another output selection', async () => {
    expect((await infer('add/versions/1', [f32([1, 2, 3.5])])).cache).toBe('miss');
    const a = f32([1, 2, 3], [1, 3], 'a');
    const b: RawTensor = {
      name: 'b',
      datatype: 'INT64',
      shape: [1, 2],
      data: Buffer.from(new BigInt64Array([5n, -6n]).buffer),
    };
    const all = await infer('pair', [a, b]);
    expect(all.cache).toBe('miss');
    expect([...all.outputs.keys()].sort()).toEqual(['doubled', 'negated']);
    const one = await infer('pair', [b, a], { outputs: ['doubled'] });
    expect(one.cache).toBe('miss');
    expect([...one.outputs.keys()]).toEqual(['doubled']);
    expect(floats(one.outputs.get('doubled'))).toEqual([2, 4, 6]);
    // Input order does not matter (inputs bind by name).
    expect((await infer('pair', [a, b], { outputs: ['doubled'] })).cache).toBe('hit');
    expect((await infer('pair', [b, a])).cache).toBe('hit');
  });

  it('bypass (use_cache=false, parameters.use_cache, Cache-Control) neither reads nor writes', async () => {
    const x = f32([40, 41, 42]);
    const before = await jobsRun('add');
    const bypasses = [
      await infer('add/versions/1', [x], { query: '?use_cache=false' }),
      await infer('add/versions/1', [x], { parameters: { use_cache: false } }),
      await infer('add/versions/1', [x], { headers: { 'cache-control': 'no-cache' } }),
      await infer('add/versions/1', [x], { headers: { 'cache-control': 'max-age=0, no-store' } }),
    ];
    expect(bypasses.map((r) => r.cache)).toEqual(['bypass', 'bypass', 'bypass', 'bypass']);
    expect(await jobsRun('add')).toBe(before + 4);
    // Nothing was written: the first cached request still misses, the next hits.
    expect((await infer('add/versions/1', [x])).cache).toBe('miss');
    const hit = await infer('add/versions/1', [x]);
    expect(hit.cache).toBe('hit');
    // A bypass does not read a stored entry either.
    expect((await infer('add/versions/1', [x], { query: '?use_cache=0' })).cache).toBe('bypass');
    expect(await jobsRun('add')).toBe(before + 6);
    const bad = await infer('add/versions/1', [x], { query: '?use_cache=maybe' });
    expect(bad.status).toBe(400);
    expect(bad.res.json().error).toMatch(/use_cache/);
  });

  it('a model with prediction_cache_ttl 0 is never cached', async () => {
    const x = f32([1, 1, 1]);
    expect((await infer('never', [x])).cache).toBe('bypass');
    expect((await infer('never', [x])).cache).toBe('bypass');
  });

  it('entries expire after the per-model TTL (prediction_cache_ttl in model_type.json)', async () => {
    const x = f32([9, 9, 9]);
    expect((await infer('short', [x])).cache).toBe('miss');
    // The 1 s TTL lapses; the long default (600 s) would keep it.
    await waitFor(async () => (await infer('short', [x])).cache === 'miss', {
      timeoutMs: 15_000,
      intervalMs: 250,
      what: 'the 1 s entry to expire',
    });
  });

  it('strata cache invalidate (CLI) and the admin endpoint make entries unreachable at once', async () => {
    const x = f32([7, 8, 9]);
    await infer('add/versions/1', [x]);
    await infer('add/versions/2', [x]);
    expect((await infer('add/versions/1', [x])).cache).toBe('hit');
    const env = {
      DATABASE_URL: stack.db.url,
      REDIS_KEY_PREFIX: stack.prefix,
      S3_BUCKET: 'unused',
      ...testRedisEnv(),
    };
    const cli = await runCli(['cache', 'invalidate', 'add/1'], env);
    expect([cli.code, cli.out]).toEqual([
      0,
      'Invalidated the cached predictions of add (version 1)\n',
    ]);
    expect((await infer('add/versions/1', [x])).cache).toBe('miss');
    expect((await infer('add/versions/1', [x], { base: gateway2.url })).cache).toBe('hit');
    // Version 2 kept its entry.
    expect((await infer('add/versions/2', [x])).cache).toBe('hit');

    const res = await request(`${stack.gateway.url}/admin/models/add/cache/invalidate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ model: 'add', versions: [1, 2] });
    expect((await infer('add/versions/1', [x], { base: gateway2.url })).cache).toBe('miss');
    expect((await infer('add/versions/2', [x])).cache).toBe('miss');

    const unknown = await runCli(['cache', 'invalidate', 'nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/Unknown model "nope"/);
    const denied = await request(`${stack.gateway.url}/admin/models/add/cache/invalidate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(denied.status).toBe(403);
  });

  it('100 concurrent identical requests across two gateways run one inference', async () => {
    const x = f32([123, 456, 789]);
    const before = await jobsRun('add');
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        infer('add/versions/1', [x], { base: i % 2 === 0 ? stack.gateway.url : gateway2.url }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const a of answers) expect(floats(a.outputs.get('y'))).toEqual([124, 457, 790]);
    expect(await jobsRun('add')).toBe(before + 1);
    expect(answers.filter((a) => a.cache === 'miss')).toHaveLength(1);
    expect(answers.filter((a) => a.cache === 'hit')).toHaveLength(99);
  });

  it('a failed computation reaches every waiter and is not cached', async () => {
    const x = f32([1, 2, 3], [3], 'x');
    const y = f32([1, 2, 3, 4], [4], 'y');
    const before = await jobsRun('broken');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        infer('broken', [x, y], { base: i % 2 === 0 ? stack.gateway.url : gateway2.url }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 400));
    const ran = (await jobsRun('broken')) - before;
    expect(ran).toBeGreaterThanOrEqual(1);
    // Coalesced: far fewer runs than requests (one per gateway at most, unless one finished first).
    expect(ran).toBeLessThan(20);
    // Not cached: the next identical request computes again.
    const again = await infer('broken', [x, y]);
    expect(again.status).toBe(400);
    expect(await jobsRun('broken')).toBe(before + ran + 1);
  });

  it('embedding batches: one lookup for all rows, only the missing rows computed', async () => {
    const rows = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
    ];
    const batch = (r: number[][]) => f32(r.flat(), [r.length, 4]);
    const before = await jobsRun('embed');
    const first = await infer('embed', [batch(rows)]);
    expect([first.cache, first.rows]).toEqual(['miss', '0/3']);
    expect(floats(first.outputs.get('y'))).toEqual(rows.flat().map((v) => v + 10));

    const mixed = [rows[2], [0, 0, 0, 1], rows[0], rows[1]];
    const second = await infer('embed', [batch(mixed)], { base: gateway2.url });
    expect([second.cache, second.rows]).toEqual(['miss', '3/4']);
    expect(second.outputs.get('y')?.shape).toEqual([4, 4]);
    expect(floats(second.outputs.get('y'))).toEqual(mixed.flat().map((v) => v + 10));
    expect(await jobsRun('embed')).toBe(before + 2);

    const third = await infer('embed', [batch([rows[1], [0, 0, 0, 1]])]);
    expect([third.cache, third.rows]).toEqual(['hit', '2/2']);
    expect(floats(third.outputs.get('y'))).toEqual([15, 16, 17, 18, 10, 10, 10, 11]);
    expect(await jobsRun('embed')).toBe(before + 2);
  });

  it('the gateway exports the prediction cache series', async () => {
    const text = (await request(`${stack.gateway.url}/metrics`)).body.toString();
    expect(text).toMatch(
      /strata_prediction_cache_requests_total\{[^}]*model="add"[^}]*result="hit"/,
    );
    expect(text).toMatch(/strata_prediction_cache_lookup_seconds_bucket/);
    expect(text).toMatch(
      /strata_cache_requests_total\{cache="prediction",level="redis",result="hit"[^}]*\} [1-9]/,
    );
    // Whichever gateway lost the lock race of the concurrent test waited on the other.
    const both = text + (await request(`${gateway2.url}/metrics`)).body.toString();
    expect(both).toMatch(/strata_prediction_cache_coalesced_total\{[^}]*scope="remote"/);
  });
});
