import type { FactoryProvider, InjectionToken } from '@nestjs/common';
import { ReadinessService, type ReadinessCheck } from './readiness.service';

export interface ReadinessCheckProviderOptions<D extends unknown[]> {
  readonly name: string;
  readonly timeoutMs?: number;
  /** Tokens whose instances are passed to `useFactory`. */
  readonly inject?: InjectionToken[];
  /** Builds the check function from the injected dependencies. */
  readonly useFactory: (...deps: D) => ReadinessCheck['check'];
}

/**
 * A provider that registers one readiness check when its module is instantiated, e.g.
 * `provideReadinessCheck({ name: 'redis', inject: [REDIS_CLIENT], useFactory: (r) => () => r.ping() })`.
 */
export function provideReadinessCheck<D extends unknown[]>(
  options: ReadinessCheckProviderOptions<D>,
): FactoryProvider {
  return {
    provide: Symbol(`readiness-check:${options.name}`),
    inject: [ReadinessService, ...(options.inject ?? [])],
    useFactory: (readiness: ReadinessService, ...deps: unknown[]) => {
      const check = options.useFactory(...(deps as D));
      readiness.register({ name: options.name, timeoutMs: options.timeoutMs, check });
      return check;
    },
  };
}
