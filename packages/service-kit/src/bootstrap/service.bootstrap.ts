import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { ServiceKitModule } from '../core/service-kit.module';
import type { ServiceConfig, ServiceId } from '../core/service-kit.tokens';
import { ServiceLifecycle } from '../core/service-lifecycle.service';
import { createLogger } from '../logging/logger.factory';
import { NestLoggerAdapter } from '../logging/nest-logger.adapter';
import { loadConfigOrExit } from './config-exit.handler';
import { installProcessFaultHandler } from './process-fault.handler';
import { PORT_VARIABLE } from './service-ports';
import { createShutdownHandler } from './shutdown.handler';

export interface BootstrapOptions {
  readonly service: ServiceId;
  /** The app's root module; ServiceKitModule is added next to it. */
  readonly module: Type<unknown> | DynamicModule;
}

export interface RunningService {
  readonly app: NestFastifyApplication;
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly url: string;
  /** What SIGTERM/SIGINT run; exits the process. */
  readonly shutdown: (signal: string) => Promise<void>;
}

@Module({})
class StrataRootModule {}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Starts one service: config (exit 1 with the bad variables on stderr), JSON logger, Nest on
 * Fastify with /healthz, /readyz, /metrics, listening on BIND_HOST and the service's port, and
 * graceful shutdown on SIGTERM/SIGINT within SHUTDOWN_TIMEOUT.
 */
export async function bootstrapService(options: BootstrapOptions): Promise<RunningService> {
  const { service } = options;
  const config: ServiceConfig = loadConfigOrExit(service);
  const logger = createLogger({ service, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  installProcessFaultHandler(logger);

  const root: DynamicModule = {
    module: StrataRootModule,
    imports: [ServiceKitModule.forRoot({ service, config, logger }), options.module],
  };
  const port = config[PORT_VARIABLE[service]];
  const host = config.BIND_HOST;
  let app: NestFastifyApplication;
  try {
    app = await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), {
      logger: new NestLoggerAdapter(logger),
      // Nest would abort() the process on a failing provider; we log it and exit 1 instead.
      abortOnError: false,
    });
    await app.listen(port, host);
  } catch (err) {
    logger.fatal({ err }, `${service} failed to start: ${messageOf(err)}`);
    process.exit(1);
  }

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const lifecycle = app.get(ServiceLifecycle);
  const shutdown = createShutdownHandler({
    logger,
    timeoutSeconds: config.SHUTDOWN_TIMEOUT,
    steps: {
      markNotReady: () => lifecycle.markShuttingDown(),
      drain: () => lifecycle.drain(),
      closeApp: () => app.close(),
    },
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  logger.info({ url }, `${service} listening on ${url}`);
  return { app, config, logger, url, shutdown };
}
