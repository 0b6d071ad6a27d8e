import { promises as fs } from 'node:fs';
import { QUEUE, bullPrefix } from '@strata/cache-keys';
import { buildInferRequestBody, parseInferResponseBody, type RawTensor } from '@strata/tensors';
import { testRedisClient } from '@strata/testing';
import { Queue } from 'bullmq';
import * as ort from 'onnxruntime-node';
import { request } from '../support/http-client';
import { REAL_MODELS, int64Scalar, randomF32 } from '../support/real-models';
import { Stack } from '../support/stack';

const SILERO_BATCHING = {
  batching: {
    enabled: true,
    maxSize: 8,
    axes: { inputs: { input: 0, state: 1, sr: null }, outputs: { output: 0, stateN: 1 } },
  },
};

const sileroInputs = (i: number): RawTensor[] => [
  randomF32('input', [1, 512], 100 + i, 0.5),
  randomF32('state', [2, 1, 128], 200 + i, 0.1),
  int64Scalar('sr', 16000n),
];

// Requests for a version the worker batches gather at the gateway while its jobs are in flight
// and travel as one `batch` job; each still gets exactly its own answer.
describe('batching at the gateway: concurrent requests of a batched version share jobs', () => {
  const stack = new Stack({ workers: 1 });
  let key: string;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    await stack.start();
    key = (await stack.apiKey(['infer'])).secret;
    const weights = await fs.readFile(REAL_MODELS.silero);
    await stack.publish('vad', {
      'weights.onnx': weights,
      'environment.json': JSON.stringify(SILERO_BATCHING),
    });
    await stack.publish('vad-solo', {
      'weights.onnx': weights,
      'environment.json': JSON.stringify({ batching: { enabled: false } }),
    });
    session = await ort.InferenceSession.create(REAL_MODELS.silero, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
  });

  afterAll(async () => {
    await session?.release();
    await stack.stop();
  });

  async function infer(model: string, inputs: RawTensor[]): Promise<Map<string, RawTensor>> {
    const built = buildInferRequestBody(inputs, {
      binaryInputs: true,
      parameters: { binary_data_output: true },
    });
    const res = await request(`${stack.gateway.url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(built.headerLength),
      },
      body: built.body,
    });
    if (res.status !== 200) throw new Error(`${model}: ${res.status} ${res.body.toString()}`);
    const parsed = parseInferResponseBody(
      res.body,
      res.headers['inference-header-content-length'] as string | undefined,
    );
    return new Map(parsed.outputs.map((o) => [o.name, o]));
  }

  async function direct(inputs: RawTensor[]): Promise<Map<string, Buffer>> {
    const [input, state, sr] = inputs.map((t) => new Uint8Array(t.data).buffer);
    const out = await session.run({
      input: new ort.Tensor('float32', new Float32Array(input), [1, 512]),
      state: new ort.Tensor('float32', new Float32Array(state), [2, 1, 128]),
      sr: new ort.Tensor('int64', new BigInt64Array(sr), []),
    });
    return new Map(
      Object.entries(out).map(([name, t]) => {
        const d = t.data as Float32Array;
        return [name, Buffer.from(d.buffer, d.byteOffset, d.byteLength)];
      }),
    );
  }

  /** Job names of the `added` events on the infer queue's event stream so far. */
  async function addedJobNames(): Promise<string[]> {
    const redis = testRedisClient();
    const queue = new Queue(QUEUE.infer, { connection: redis, prefix: bullPrefix(stack.prefix) });
    try {
      // Its set-up commands must be answered before the connection goes (on a Cluster they go to
      // another node than the XRANGE, so they may still be in flight).
      await queue.waitUntilReady();
      const entries = await redis.xrange(queue.keys.events, '-', '+');
      return entries.flatMap(([, fields]) => {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i], fields[i + 1]);
        return f.get('event') === 'added' ? [f.get('name') ?? ''] : [];
      });
    } finally {
      await queue.close();
      redis.disconnect();
    }
  }

  it('64 concurrent Silero requests: batch jobs carry several, every answer equals ORT', async () => {
    // The first answer tells the gateway the version batches (8 at most).
    await infer('vad', sileroInputs(0));
    const n = 64;
    const inputs = Array.from({ length: n }, (_, i) => sileroInputs(1 + i));
    const answers = await Promise.all(inputs.map((inp) => infer('vad', inp)));
    for (let i = 0; i < n; i++) {
      const want = await direct(inputs[i]);
      expect(answers[i].get('output')!.data.equals(want.get('output')!)).toBe(true);
      expect(answers[i].get('stateN')!.data.equals(want.get('stateN')!)).toBe(true);
    }
    const names = await addedJobNames();
    const batches = names.filter((x) => x === 'batch').length;
    expect(batches).toBeGreaterThan(0);
    // Fewer jobs than requests: the batch jobs carried several each.
    expect(names.length).toBeLessThan(n + 1);
  });

  it('a version with batching off: one run job per request, never a batch job', async () => {
    const before = await addedJobNames();
    await infer('vad-solo', sileroInputs(0));
    const n = 24;
    const inputs = Array.from({ length: n }, (_, i) => sileroInputs(100 + i));
    const answers = await Promise.all(inputs.map((inp) => infer('vad-solo', inp)));
    for (let i = 0; i < n; i++) {
      const want = await direct(inputs[i]);
      expect(answers[i].get('stateN')!.data.equals(want.get('stateN')!)).toBe(true);
    }
    const added = (await addedJobNames()).slice(before.length);
    expect(added).toEqual(Array.from({ length: n + 1 }, () => 'run'));
  });
});
