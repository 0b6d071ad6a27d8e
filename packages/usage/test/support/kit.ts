import type { DynamicModule, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@strata/config';
import { createLogger, ServiceKitModule, type ServiceConfig } from '@strata/service-kit';
import type { Logger } from 'pino';

export interface Kit {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly records: Record<string, unknown>[];
}

/** Config and a captured JSON logger for `service`, from exactly `env`. */
export function kit(service: 'gateway' | 'inference-worker', env: Record<string, string>): Kit {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger({
    service,
    level: 'debug',
    format: 'json',
    destination: { write: (s: string) => records.push(JSON.parse(s)) },
  });
  return { config: loadConfig(service, env), logger, records };
}

/** A Nest application context with the service-kit globals and `imports`, initialised. */
export async function kitContext(
  service: 'gateway' | 'inference-worker',
  k: Kit,
  imports: (Type<unknown> | DynamicModule)[],
) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ServiceKitModule.forRoot({ service, config: k.config, logger: k.logger }),
      ...imports,
    ],
  }).compile();
  // An application context (no HTTP server) runs the same lifecycle hooks, shutdown included.
  await moduleRef.init();
  return moduleRef;
}
