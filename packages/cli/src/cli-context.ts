import { ApiKeyEvents, ApiKeyService } from '@strata/api-keys';
import { loadConfig, type ConfigFor, type Env } from '@strata/config';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { redisTopologyOf } from '@strata/redis-topology';
import {
  ModelAdminService,
  ModelPublisher,
  ModelRegistryRepository,
  RegistryEvents,
  S3ArtifactStore,
} from '@strata/model-registry';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/**
 * What commands use, created on first use and closed once at the end: a command that fails on
 * its arguments never reads the configuration, and `models list` never connects to S3 or Redis.
 */
export class CliContext {
  private config?: ConfigFor<'cli'>;
  private prisma?: PrismaClient;
  private store?: S3ArtifactStore;
  private events?: RegistryEvents;
  private keyEvents?: ApiKeyEvents;

  constructor(
    readonly io: CliIo,
    private readonly env?: Env,
  ) {}

  /** `loadConfig('cli')`; a ConfigError surfaces as exit code 2. */
  getConfig(): ConfigFor<'cli'> {
    this.config ??= this.env === undefined ? loadConfig('cli') : loadConfig('cli', this.env);
    return this.config;
  }

  warn(message: string): void {
    this.io.stderr.write(`strata: warning: ${message}\n`);
  }

  private prismaClient(): PrismaClient {
    const config = this.getConfig();
    this.prisma ??= createPrismaClient({
      databaseUrl: config.DATABASE_URL,
      maxConnections: 4,
      connectionTimeoutMs: 10_000,
    });
    return this.prisma;
  }

  repository(): ModelRegistryRepository {
    return new ModelRegistryRepository(this.prismaClient());
  }

  /** Revocations are broadcast to the gateways (Redis is reached only when one happens). */
  apiKeys(): ApiKeyService {
    const config = this.getConfig();
    this.keyEvents ??= ApiKeyEvents.connect(redisTopologyOf(config), config.REDIS_KEY_PREFIX, {
      log: (message) => this.warn(message),
    });
    return new ApiKeyService(this.prismaClient(), { events: this.keyEvents });
  }

  artifactStore(): S3ArtifactStore {
    this.store ??= S3ArtifactStore.fromConfig(this.getConfig());
    return this.store;
  }

  registryEvents(): RegistryEvents {
    const config = this.getConfig();
    this.events ??= RegistryEvents.connect(redisTopologyOf(config), config.REDIS_KEY_PREFIX, {
      log: (level, message) => {
        if (level === 'warn') this.warn(message);
      },
    });
    return this.events;
  }

  publisher(): ModelPublisher {
    return new ModelPublisher({
      repository: this.repository(),
      store: this.artifactStore(),
      s3Prefix: this.getConfig().S3_PREFIX,
      events: this.registryEvents(),
      log: (level, message) => {
        if (level === 'warn') this.warn(message);
      },
    });
  }

  admin(): ModelAdminService {
    return new ModelAdminService({
      repository: this.repository(),
      store: this.artifactStore(),
      s3Prefix: this.getConfig().S3_PREFIX,
      events: this.registryEvents(),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.prisma?.$disconnect(),
      this.events?.close(),
      this.keyEvents?.close(),
      Promise.resolve(this.store?.destroy()),
    ]);
  }
}
