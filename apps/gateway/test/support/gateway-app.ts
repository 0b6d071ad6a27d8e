import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@strata/config';
import { ServiceKitModule, createLogger } from '@strata/service-kit';
import { serviceEnv } from '@strata/testing';
import { AppModule } from '../../src/app.module';

export interface GatewayApp {
  readonly app: NestFastifyApplication;
  readonly url: string;
  readonly env: Record<string, string>;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

@Module({})
class TestRoot {}

/**
 * The gateway's AppModule in this process, on Fastify, listening on a free port, configured
 * from a test environment (serviceEnv plus overrides), as bootstrapService would start it.
 */
export async function startGatewayApp(
  overrides: Record<string, string | undefined>,
): Promise<GatewayApp> {
  const env = await serviceEnv({ LOG_LEVEL: 'warn', ...overrides });
  const config = loadConfig('gateway', env);
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'gateway',
    level: 'warn',
    format: 'json',
    destination: { write: (s: string) => void logs.push(JSON.parse(s)) },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    {
      module: TestRoot,
      imports: [ServiceKitModule.forRoot({ service: 'gateway', config, logger }), AppModule],
    },
    new FastifyAdapter(),
    { logger: false, abortOnError: false },
  );
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    env,
    logs,
    close: () => app.close(),
  };
}
