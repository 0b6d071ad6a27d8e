import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { QUEUE, bullPrefix } from '@strata/cache-keys';
import {
  buildInferRequestBody,
  parseInferRequest,
  parseInferResponseBody,
  toJsonTensor,
  type RawTensor,
  type TensorDatatype,
} from '@strata/tensors';
import {
  ONNX_DATATYPES,
  REPO_ROOT,
  buildConstantOutputModel,
  buildIdentityModel,
  testRedisClient,
  testRedisEnv,
  waitFor,
  yoloV8Output,
} from '@strata/testing';
import { Queue } from 'bullmq';
import { request, type Answer } from '../support/http-client';
import { PADDLE_CLS_ENVIRONMENT, rotate180, solidPng, textPng } from '../support/images';
import { REAL_MODELS, int64Scalar, randomF32, runDirect } from '../support/real-models';
import { Stack } from '../support/stack';

const INFER_TIMEOUT_MS = 30_000;

/**
 * Same FP32 values element by element. JSON answers cannot carry the sign of a zero
 * (JSON.stringify(-0) is "0"), so the JSON path compares values; binary answers compare bytes.
 */
function sameFloats(a: RawTensor, b: RawTensor, binary: boolean): boolean {
  if (binary) return a.data.equals(b.data);
  const x = new Float32Array(new Uint8Array(a.data).buffer);
  const y = new Float32Array(new Uint8Array(b.data).buffer);
  return (
    x.length === y.length &&
    x.every((v, i) => v === y[i] || (Number.isNaN(v) && Number.isNaN(y[i])))
  );
}

/** JSON values of every datatype, extremes included (4 elements each). */
const VALUES: { [D in TensorDatatype]: unknown[] } = {
  BOOL: [true, false, false, true],
  UINT8: [0, 1, 128, 255],
  UINT16: [0, 1, 32768, 65535],
  UINT32: [0, 1, 2147483648, 4294967295],
  UINT64: [0, 1, '9007199254740993', '18446744073709551615'],
  INT8: [-128, -1, 0, 127],
  INT16: [-32768, -1, 0, 32767],
  INT32: [-2147483648, -1, 0, 2147483647],
  INT64: ['-9223372036854775808', -1, 0, '9223372036854775807'],
  FP16: [1.5, -0.0009765625, 'Infinity', 65504],
  // -0 is left out: JSON.stringify prints it as 0 (a @strata/tensors limitation; binary keeps it).
  FP32: [0.1, -1.5e-38, 'NaN', '-Infinity'],
  FP64: [0.1, -5e-324, 'NaN', 1.7976931348623157e308],
  BYTES: ['hello', '', 'ünïcødé ✓', 'x'.repeat(100)],
};

const DETECTIONS = [
  { cx: 20, cy: 30, w: 20, h: 20, classId: 0, score: 0.9 },
  { cx: 21, cy: 31, w: 20, h: 20, classId: 0, score: 0.8 },
  { cx: 21, cy: 31, w: 20, h: 20, classId: 1, score: 0.7 },
  { cx: 48, cy: 40, w: 8, h: 16, classId: 1, score: 0.6 },
];

function strata(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'packages/cli/dist/main.js'), ...args],
      { env, stdio: 'pipe' },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('gateway end to end (gateway, model-loader, 2 inference-workers, telemetry-sender)', () => {
  const stack = new Stack({
    workers: 2,
    gateway: {
      INFER_TIMEOUT_MS: String(INFER_TIMEOUT_MS),
      GATEWAY_MAX_BODY_BYTES: '8MiB',
      INFER_BLOB_THRESHOLD_BYTES: '64KiB',
      AUTH_LOCAL_CACHE_TTL_MS: '300',
    },
    // A dead worker's job is taken over after its lock lapses and the next stalled check.
    worker: { INFER_JOB_LOCK_MS: '4000', INFER_STALLED_INTERVAL_MS: '1000' },
  });
  let key: string;
  let adminKey: string;

  const auth = () => ({ authorization: `Bearer ${key}` });
  const post = (p: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
    request(`${stack.gateway.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(), ...headers },
      body: Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body),
      timeoutMs: INFER_TIMEOUT_MS + 10_000,
    });
  async function inferRaw(
    model: string,
    inputs: RawTensor[],
    options: { binary?: boolean; outputs?: string[] } = {},
  ) {
    const built = buildInferRequestBody(inputs, {
      binaryInputs: options.binary ?? false,
      ...(options.binary && { parameters: { binary_data_output: true } }),
      ...(options.outputs && { outputs: options.outputs.map((name) => ({ name })) }),
    });
    const res = await post(
      `/v2/models/${model}/infer`,
      built.body,
      built.headerLength === undefined
        ? {}
        : {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(built.headerLength),
          },
    );
    if (res.status !== 200) throw new Error(`${model}: ${res.status} ${res.body.toString()}`);
    const parsed = parseInferResponseBody(
      res.body,
      res.headers['inference-header-content-length'] as string | undefined,
    );
    return { res, outputs: new Map(parsed.outputs.map((o) => [o.name, o])) };
  }

  beforeAll(async () => {
    await stack.start();
    key = (await stack.apiKey(['infer'])).secret;
    adminKey = (await stack.apiKey(['admin'])).secret;
    await stack.publish(
      'cls',
      {
        'weights.onnx': await fs.readFile(REAL_MODELS.classifier),
        'environment.json': JSON.stringify(PADDLE_CLS_ENVIRONMENT),
        'class_names.txt': '0\n180\n',
      },
      { taskType: 'classification' },
    );
    await stack.publish('rec', { 'weights.onnx': await fs.readFile(REAL_MODELS.recogniser) });
    await stack.publish('silero', { 'weights.onnx': await fs.readFile(REAL_MODELS.silero) });
    const head = yoloV8Output(DETECTIONS, 2, 10);
    await stack.publish(
      'det',
      {
        'weights.onnx': buildConstantOutputModel(head),
        'environment.json': JSON.stringify({ preprocessing: { resize: 'letterbox' } }),
        'class_names.txt': 'cat\ndog\n',
      },
      { taskType: 'object-detection' },
    );
    for (const dt of ONNX_DATATYPES) {
      await stack.publish(`id-${dt.toLowerCase()}`, {
        'weights.onnx': buildIdentityModel({ datatype: dt, shape: ['batch', 4] }),
      });
    }
  });

  afterAll(async () => {
    await stack.stop();
  });

  describe('real models give what onnxruntime-node gives', () => {
    it.each([false, true])('PaddleOCR classifier and recogniser (binary: %s)', async (binary) => {
      const x = randomF32('x', [1, 3, 48, 192], 7);
      const direct = await runDirect(REAL_MODELS.classifier, [x]);
      const { outputs } = await inferRaw('cls', [x], { binary });
      const out = outputs.get('softmax_0.tmp_0')!;
      expect(out.shape).toEqual([1, 2]);
      expect(sameFloats(out, direct.get('softmax_0.tmp_0')!, binary)).toBe(true);

      const r = randomF32('x', [1, 3, 48, 160], 11);
      const recDirect = (await runDirect(REAL_MODELS.recogniser, [r])).get('softmax_11.tmp_0')!;
      const rec = (await inferRaw('rec', [r], { binary })).outputs.get('softmax_11.tmp_0')!;
      expect(rec.shape).toEqual(recDirect.shape);
      expect(sameFloats(rec, recDirect, binary)).toBe(true);
    });

    it.each([false, true])(
      'Silero VAD v5 with its int64 scalar sr and its state (binary: %s)',
      async (binary) => {
        const inputs = [
          randomF32('input', [1, 512], 3, 0.5),
          randomF32('state', [2, 1, 128], 5, 0.1),
          int64Scalar('sr', 16000n),
        ];
        const direct = await runDirect(REAL_MODELS.silero, inputs);
        const { outputs, res } = await inferRaw('silero', inputs, { binary });
        expect(res.headers['content-type']).toBe(
          binary ? 'application/octet-stream' : 'application/json',
        );
        for (const name of ['output', 'stateN']) {
          expect([name, outputs.get(name)!.shape]).toEqual([name, direct.get(name)!.shape]);
          expect([name, sameFloats(outputs.get(name)!, direct.get(name)!, binary)]).toEqual([
            name,
            true,
          ]);
        }
        const only = await inferRaw('silero', inputs, { binary, outputs: ['stateN'] });
        expect([...only.outputs.keys()]).toEqual(['stateN']);
      },
    );
  });

  describe('every datatype round-trips through an Identity model', () => {
    it.each(ONNX_DATATYPES)('%s, JSON and binary both ways', async (dt) => {
      const json = { name: 'input', datatype: dt, shape: [1, 4], data: VALUES[dt] };
      const raw = parseInferRequest({ inputs: [json] }).inputs[0];
      const model = `id-${dt.toLowerCase()}`;
      const res = await post(`/v2/models/${model}/infer`, { id: dt, inputs: [json] });
      expect(res.status).toBe(200);
      const body = res.json<{ id: string; outputs: unknown[] }>();
      expect(body.id).toBe(dt);
      expect(body.outputs).toEqual([toJsonTensor({ ...raw, name: 'output' })]);
      expect(parseInferResponseBody(res.body).outputs[0].data.equals(raw.data)).toBe(true);

      const binary = await inferRaw(model, [raw], { binary: true });
      expect(binary.res.headers['inference-header-content-length']).toBeDefined();
      expect(binary.outputs.get('output')!.data.equals(raw.data)).toBe(true);
      // Binary in, JSON out; JSON in, binary out for one output.
      const mixedIn = buildInferRequestBody([raw], { binaryInputs: true });
      const a = await post(`/v2/models/${model}/infer`, mixedIn.body, {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(mixedIn.headerLength),
      });
      expect(a.json<{ outputs: unknown[] }>().outputs).toEqual([
        toJsonTensor({ ...raw, name: 'output' }),
      ]);
      const b = await post(`/v2/models/${model}/infer`, {
        inputs: [json],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      });
      expect(
        parseInferResponseBody(
          b.body,
          b.headers['inference-header-content-length'] as string,
        ).outputs[0].data.equals(raw.data),
      ).toBe(true);
    });

    it('sends large inputs through a Redis blob', async () => {
      const big = randomF32('x', [4, 3, 48, 192], 21); // 442 KB > INFER_BLOB_THRESHOLD_BYTES
      const direct = await runDirect(REAL_MODELS.classifier, [big]);
      const { outputs } = await inferRaw('cls', [big], { binary: true });
      expect(outputs.get('softmax_0.tmp_0')!.data.equals(direct.get('softmax_0.tmp_0')!.data)).toBe(
        true,
      );
    });
  });

  describe('bad input', () => {
    it('gets a clear JSON error and never a 5xx; the workers are unaffected', async () => {
      const good = { name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };
      const cases: [string, unknown, number, RegExp][] = [
        ['/v2/models/id-fp32/infer', '{"inputs": [{"name": ', 400, /JSON/],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [{ ...good, name: 'image' }] },
          400,
          /input "image": unknown input \(model inputs: "input"\)/,
        ],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [{ ...good, datatype: 'INT32' }] },
          400,
          /datatype FP32 expected, got INT32/,
        ],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [{ ...good, data: [1, 2, 3] }] },
          400,
          /input "input"/,
        ],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [{ ...good, shape: [1, 5], data: [1, 2, 3, 4, 5] }] },
          400,
          /does not match the model's \[-1,4\]/,
        ],
        [
          '/v2/models/silero/infer',
          {
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [1, 512], data: new Array(512).fill(0) },
            ],
          },
          400,
          /missing/,
        ],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [{ ...good, shape: [100_000_000, 4], data: [] }] },
          413,
          /limit/,
        ],
        [
          '/v2/models/id-fp32/infer',
          { inputs: [good], pad: 'x'.repeat(9 * 1024 * 1024) },
          413,
          /too large/i,
        ],
        ['/v2/models/ghost/infer', { inputs: [good] }, 404, /Unknown model "ghost"/],
        [
          '/v2/models/id-fp32/versions/42/infer',
          { inputs: [good] },
          404,
          /Unknown version 42 of model "id-fp32"/,
        ],
        [
          '/v2/models/id-fp32/versions/canary/infer',
          { inputs: [good] },
          404,
          /Unknown alias "canary"/,
        ],
      ];
      for (const [p, body, status, message] of cases) {
        // The 9 MiB body is refused from its Content-Length before it is read: the gateway
        // must still read it off the wire, or the reset of a closing socket can destroy the 413
        // (a NoAnswerError from the client).
        const res = await post(p, body);
        expect([p, res.status]).toEqual([p, status]);
        expect(res.headers['content-type']).toMatch(/application\/json/);
        expect(res.json<{ error: string }>().error).toMatch(message);
      }
      for (const w of stack.workers.values()) expect(w.output()).not.toMatch(/"level":"(fatal)"/);
      const ok = await post('/v2/models/id-fp32/infer', { inputs: [good] });
      expect(ok.json()).toMatchObject({ outputs: [{ name: 'output', data: [1, 2, 3, 4] }] });
    });

    it('a body refused by its Content-Length is read off the wire: the 413 arrives and the connection stays usable', async () => {
      const { hostname, port } = new URL(stack.gateway.url);
      const head = (length: number) =>
        `POST /v2/models/id-fp32/infer HTTP/1.1\r\nHost: ${hostname}\r\n` +
        `Authorization: Bearer ${key}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${length}\r\n\r\n`;
      /** A raw connection, to see headers and what comes after the refused body. */
      const open = () => {
        const socket = net.connect(Number(port), hostname);
        const conn = { socket, received: '' };
        socket.on('data', (c: Buffer) => (conn.received += c.toString('latin1')));
        socket.on('error', () => undefined);
        return conn;
      };
      const answers = (conn: { received: string }, n: number) =>
        waitFor(() => conn.received.split('HTTP/1.1 ').length - 1 >= n && conn.received, {
          timeoutMs: 20_000,
          what: `${n} answer(s) on the connection`,
        });

      // 9 MiB declared against the 8 MiB limit: refused before a byte of it is read, without a
      // close; the client sends it anyway, the gateway drops it and answers the next request.
      const small = open();
      try {
        small.socket.write(head(9 * 1024 * 1024));
        const first = await answers(small, 1);
        expect(first).toMatch(/^HTTP\/1\.1 413 /);
        expect(first.toLowerCase()).not.toContain('connection: close');
        small.socket.write(Buffer.alloc(9 * 1024 * 1024, 0x20));
        small.socket.write(`GET /v2/health/live HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
        expect((await answers(small, 2)).split('HTTP/1.1 ')[2]).toMatch(/^200 /);
      } finally {
        small.socket.destroy();
      }

      // Far beyond what is worth reading: refused with the close, as Fastify answers.
      const huge = open();
      try {
        huge.socket.write(head(1024 ** 3));
        const refused = await answers(huge, 1);
        expect(refused).toMatch(/^HTTP\/1\.1 413 /);
        expect(refused.toLowerCase()).toContain('connection: close');
      } finally {
        huge.socket.destroy();
      }
    });
  });

  describe('auth', () => {
    it('401 without a key, 403 with the wrong scope, open health endpoints; CLI-made keys work until revoked', async () => {
      const url = stack.gateway.url;
      expect((await request(`${url}/v2/models/cls`)).status).toBe(401);
      expect(
        (
          await request(`${url}/v2/models/cls`, {
            headers: { authorization: `Bearer ${adminKey}` },
          })
        ).status,
      ).toBe(403);
      expect((await request(`${url}/admin/keys`, { headers: auth() })).status).toBe(403);
      for (const p of ['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']) {
        expect([p, (await request(`${url}${p}`)).status]).toEqual([p, 200]);
      }
      // The CLI talks to the stack's Redis (whatever its topology) under the stack's prefix.
      const env = {
        DATABASE_URL: stack.db.url,
        S3_BUCKET: 'unused',
        REDIS_KEY_PREFIX: stack.prefix,
        ...testRedisEnv(),
      };
      const created = await strata(['keys', 'create', '--name', 'from-cli', '--json'], env);
      expect(created.code).toBe(0);
      const { id, secret } = JSON.parse(created.stdout) as { id: string; secret: string };
      expect((await request(`${url}/v2/models/cls?api_key=${secret}`)).status).toBe(200);
      expect((await strata(['keys', 'revoke', id], env)).code).toBe(0);
      // Another process revoked it: this gateway notices when its cached check expires.
      await waitFor(
        async () => (await request(`${url}/v2/models/cls?api_key=${secret}`)).status === 401,
        {
          timeoutMs: 10_000,
          intervalMs: 100,
          what: 'the revoked key to be refused',
        },
      );
      expect((await request(`${url}/v2/models/cls?api_key=${secret}`)).json()).toEqual({
        error: 'the API key was revoked',
      });
    });
  });

  describe('task endpoints', () => {
    it('classifies with the PaddleOCR classifier; a 180° rotation flips the top class', async () => {
      const upright = await textPng('Hello');
      const a = await post('/infer/classification', {
        model_id: 'cls/1',
        image: upright.toString('base64'),
      });
      expect(a.status).toBe(200);
      expect(a.json()).toMatchObject({
        model_id: 'cls/1',
        top: '0',
        predictions: [{ class: '0' }, { class: '180' }],
      });
      const b = await post('/infer/classification', {
        model_id: 'cls',
        image: { type: 'base64', value: (await rotate180(upright)).toString('base64') },
      });
      expect(b.json()).toMatchObject({ top: '180' });
    });

    it('decodes a YOLO head, NMS per class, boxes in original image coordinates', async () => {
      const res = await post('/infer/object_detection', {
        model_id: 'det',
        image: (await solidPng(128, 64)).toString('base64'),
      });
      expect(res.status).toBe(200);
      const preds = res.json<{
        predictions: {
          x: number;
          y: number;
          width: number;
          height: number;
          class: string;
          confidence: number;
        }[];
      }>().predictions;
      expect(
        preds.map((p) => [
          p.class,
          Math.round(p.confidence * 10) / 10,
          p.x,
          p.y,
          p.width,
          p.height,
        ]),
      ).toEqual([
        ['cat', 0.9, 40, 28, 40, 40],
        ['dog', 0.7, 42, 30, 40, 40],
        ['dog', 0.6, 96, 48, 16, 32],
      ]);
    });

    it('lists loaded models from the workers placement records', async () => {
      const res = await request(`${stack.gateway.url}/model/registry`, { headers: auth() });
      const models = res.json<{
        models: {
          model_id: string;
          task_type: string;
          input_width: number;
          input_height: number;
          workers: string[];
        }[];
      }>().models;
      expect(models.find((m) => m.model_id === 'cls/1')).toMatchObject({
        task_type: 'classification',
        input_width: 192,
        input_height: 48,
        batch_size: 'dynamic',
      });
      expect(models.find((m) => m.model_id === 'det/1')).toMatchObject({
        task_type: 'object-detection',
        input_width: 64,
        input_height: 64,
        batch_size: 1,
      });
    });
  });

  describe('worker failure', () => {
    it('a worker killed with SIGKILL mid-job: the client still gets its answer within INFER_TIMEOUT_MS', async () => {
      const model = 'failover';
      await stack.publish(model, {
        'weights.onnx': buildIdentityModel({
          datatype: 'FP32',
          shape: ['batch', 4],
          docString: 'failover',
        }),
      });
      const connection = testRedisClient({ maxRetriesPerRequest: null });
      const queue = new Queue(QUEUE.infer, { connection, prefix: bullPrefix(stack.prefix) });
      // Holding the loader makes the worker that takes the job wait on its files: mid-job.
      stack.loader.kill('SIGSTOP');
      let loaderStopped = true;
      try {
        const answer = post(`/v2/models/${model}/infer`, {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [4, 3, 2, 1] }],
        });
        let taker: string | undefined;
        await waitFor(
          async () => {
            const active = await queue.getActive();
            taker = active.find((j) => j.data?.model === model)?.processedBy;
            return taker !== undefined;
          },
          { timeoutMs: 10_000, intervalMs: 50, what: 'a worker to take the job' },
        );
        const victim = stack.workers.get(taker!)!;
        victim.kill('SIGKILL');
        await victim.exited;
        stack.loader.kill('SIGCONT');
        loaderStopped = false;
        const res = await answer;
        expect(res.status).toBe(200);
        expect(res.json()).toMatchObject({
          model_name: model,
          outputs: [{ name: 'output', data: [4, 3, 2, 1] }],
        });
        const survivor = [...stack.workers.keys()].find((id) => id !== taker)!;
        expect(stack.workers.get(survivor)!.output()).toContain(model);
      } finally {
        if (loaderStopped) stack.loader.kill('SIGCONT');
        await queue.close();
        connection.disconnect();
      }
    });
  });
});
