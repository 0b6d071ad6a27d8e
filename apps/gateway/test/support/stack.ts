import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '@strata/api-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '@strata/embedded-s3';
import {
  ModelPublisher,
  ModelRegistryRepository,
  RegistryEvents,
  S3ArtifactStore,
  type PublishResult,
} from '@strata/model-registry';
import {
  createTestDatabase,
  deleteRedisPrefix,
  serviceEnv,
  spawnService,
  testRedisPrefix,
  testRedisTopology,
  type SpawnedService,
  type RedisTopology,
  type TestDatabase,
} from '@strata/testing';

const BUCKET = 'strata-gw-e2e';
const S3_PREFIX = 'e2e';

export interface StackOptions {
  workers: number;
  gateway?: Record<string, string>;
  worker?: Record<string, string>;
  telemetry?: Record<string, string>;
  /** Another Redis than the shared test one: the services' variables and the same topology. */
  redis?: { env: Record<string, string>; topology: RedisTopology };
}

/**
 * The platform as processes for end-to-end tests: gateway, model-loader, inference-workers and
 * telemetry-sender (built `dist/main.js` of each) on a throwaway Postgres schema, an in-process
 * s3rver, a unique Redis prefix. Loader and workers share one cache directory; the gateway has
 * its own, so it reads artifact files from S3. Models are published with the registry's
 * ModelPublisher, as `strata models push` does.
 */
export class Stack {
  readonly prefix = testRedisPrefix('gw-e2e');
  db!: TestDatabase;
  prisma!: PrismaClient;
  s3!: EmbeddedS3;
  work!: string;
  shared!: Record<string, string>;
  gateway!: SpawnedService;
  loader!: SpawnedService;
  telemetry!: SpawnedService;
  readonly workers = new Map<string, SpawnedService>();
  private store!: S3ArtifactStore;
  private publisher!: ModelPublisher;
  private events!: RegistryEvents;

  constructor(private readonly options: StackOptions) {}

  async start(): Promise<void> {
    this.work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-gw-e2e-'));
    [this.s3, this.db] = await Promise.all([
      startEmbeddedS3({ directory: path.join(this.work, 's3'), port: 0, buckets: [BUCKET] }),
      createTestDatabase('gw_e2e'),
    ]);
    this.prisma = createPrismaClient({ databaseUrl: this.db.url, maxConnections: 4 });
    this.store = new S3ArtifactStore({
      bucket: BUCKET,
      endpoint: this.s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...EMBEDDED_S3_CREDENTIALS },
    });
    this.events = RegistryEvents.connect(this.redisTopology(), this.prefix);
    this.publisher = new ModelPublisher({
      repository: new ModelRegistryRepository(this.prisma),
      store: this.store,
      s3Prefix: S3_PREFIX,
      events: this.events,
    });
    this.shared = {
      REDIS_KEY_PREFIX: this.prefix,
      DATABASE_URL: this.db.url,
      S3_ENDPOINT: this.s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_PREFIX,
      MODEL_CACHE_DIR: path.join(this.work, 'cache'),
      CACHE_DOMAIN: 'e2e',
      ...this.options.redis?.env,
    };
    await fs.mkdir(this.shared.MODEL_CACHE_DIR, { recursive: true });
    this.loader = spawnService('model-loader', await serviceEnv(this.shared));
    this.telemetry = spawnService(
      'telemetry-sender',
      await serviceEnv({ ...this.shared, ...this.options.telemetry }),
    );
    this.gateway = spawnService(
      'gateway',
      await serviceEnv({
        ...this.shared,
        MODEL_CACHE_DIR: path.join(this.work, 'gateway-cache'),
        ...this.options.gateway,
      }),
    );
    await Promise.all([
      this.loader.waitForReady(60_000),
      this.telemetry.waitForReady(60_000),
      this.gateway.waitForReady(60_000),
    ]);
    for (let i = 1; i <= this.options.workers; i++) await this.startWorker(`w${i}`);
  }

  async startWorker(id: string): Promise<SpawnedService> {
    const env = await serviceEnv({
      ...this.shared,
      WORKER_ID: id,
      ORT_INTRA_OP_THREADS: '1',
      ...this.options.worker,
    });
    const worker = spawnService('inference-worker', env);
    this.workers.set(id, worker);
    await worker.waitForReady(60_000);
    return worker;
  }

  /** Publishes a directory made of `files` (weights.onnx and friends) as the next version. */
  async publish(
    model: string,
    files: Record<string, Buffer | string>,
    options: { taskType?: string; alias?: string } = {},
  ): Promise<PublishResult> {
    const dir = await fs.mkdtemp(path.join(this.work, `src-${model}-`));
    for (const [name, data] of Object.entries(files))
      await fs.writeFile(path.join(dir, name), data);
    return this.publisher.publish(dir, { model, ...options });
  }

  async apiKey(scopes: ('infer' | 'admin')[]): Promise<{ id: string; secret: string }> {
    const { key, secret } = await new ApiKeyService(this.prisma).create({
      name: `e2e ${scopes.join(',')}`,
      scopes,
    });
    return { id: key.id, secret };
  }

  redisTopology(): RedisTopology {
    return this.options.redis?.topology ?? testRedisTopology();
  }

  async stop(): Promise<void> {
    const all = [this.gateway, this.loader, this.telemetry, ...this.workers.values()].filter(
      Boolean,
    );
    await Promise.allSettled(all.map((s) => s.stop(15_000)));
    await this.events?.close();
    this.store?.destroy();
    await this.prisma?.$disconnect();
    await Promise.allSettled([
      this.s3?.stop(),
      this.db?.drop(),
      deleteRedisPrefix(this.prefix, this.redisTopology()),
    ]);
    await fs.rm(this.work, { recursive: true, force: true });
  }
}
