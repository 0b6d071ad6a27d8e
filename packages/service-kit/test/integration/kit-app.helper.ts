import type { DynamicModule, Type } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@strata/config';
import { createLogger, ServiceKitModule } from '@strata/service-kit';

export interface KitApp {
  app: NestFastifyApplication;
  records: Record<string, unknown>[];
}

/** A service-kit app in this process (telemetry-sender config from `env`), logs captured. */
export async function startKitApp(
  env: Record<string, string>,
  imports: (Type<unknown> | DynamicModule)[],
): Promise<KitApp> {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'telemetry-sender',
    level: 'debug',
    format: 'json',
    destination: { write: (s: string) => records.push(JSON.parse(s)) },
  });
  const config = loadConfig('telemetry-sender', env);
  const moduleRef = await Test.createTestingModule({
    imports: [
      ServiceKitModule.forRoot({ service: 'telemetry-sender', config, logger }),
      ...imports,
    ],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
  });
  await app.init();
  return { app, records };
}
