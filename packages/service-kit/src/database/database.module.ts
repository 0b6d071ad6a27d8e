import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createPrismaClient, pingDatabase } from '@strata/db';
import type { Logger } from 'pino';
import { STRATA_CONFIG, STRATA_LOGGER, type ServiceConfig } from '../core/service-kit.tokens';
import { provideReadinessCheck } from '../health/readiness-check.provider';

const POSTGRES_CONNECT_TIMEOUT_MS = 2000;
const POSTGRES_PING_TIMEOUT_MS = 1500;

export type DatabaseClient = ReturnType<typeof createPrismaClient>;

/** Injection token: the process's Prisma client (from @strata/db, on DATABASE_URL). */
export const PRISMA_CLIENT = Symbol('PRISMA_CLIENT');

@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(PRISMA_CLIENT) private readonly client: DatabaseClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client.$disconnect();
  }
}

/** Postgres for the process: one Prisma client, the `postgres` readiness check, closed on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: PRISMA_CLIENT,
      inject: [STRATA_CONFIG, STRATA_LOGGER],
      useFactory: (config: ServiceConfig, logger: Logger): DatabaseClient => {
        if (!config.DATABASE_URL) throw new Error('DATABASE_URL is not set');
        let lastError: string | undefined;
        return createPrismaClient({
          databaseUrl: config.DATABASE_URL,
          // A request waits this long for a connection, then fails instead of hanging.
          connectionTimeoutMs: POSTGRES_CONNECT_TIMEOUT_MS,
          // Idle connections die when Postgres restarts: log it (once per message), never crash.
          onPoolError: (err) => {
            if (err.message === lastError) return;
            lastError = err.message;
            logger.warn({ err }, `postgres pool: ${err.message}`);
          },
        });
      },
    },
    DatabaseCloser,
    provideReadinessCheck({
      name: 'postgres',
      inject: [PRISMA_CLIENT],
      timeoutMs: POSTGRES_PING_TIMEOUT_MS + 500,
      useFactory: (client: DatabaseClient) => async () => {
        const result = await pingDatabase(client, POSTGRES_PING_TIMEOUT_MS);
        if (!result.ok) throw new Error(result.error);
      },
    }),
  ],
  exports: [PRISMA_CLIENT],
})
export class DatabaseModule {}
