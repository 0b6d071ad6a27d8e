import { Global, Module } from '@nestjs/common';
import { provideReadinessCheck } from '../health/readiness-check.provider';
import { RedisConnectionFactory } from './redis-connection.factory';
import { pingRedis } from './redis.readiness';
import type { RedisClient } from '@strata/redis-topology';

/** Injection token: the shared fail-fast (`cache` role) connection of the process. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/**
 * Redis for the process: the connection factory, one shared fail-fast client, and the `redis`
 * readiness check (PING on that client).
 */
@Global()
@Module({
  providers: [
    RedisConnectionFactory,
    {
      provide: REDIS_CLIENT,
      inject: [RedisConnectionFactory],
      useFactory: (factory: RedisConnectionFactory) => factory.create('cache', 'cache'),
    },
    provideReadinessCheck({
      name: 'redis',
      inject: [REDIS_CLIENT, RedisConnectionFactory],
      useFactory: (client: RedisClient, factory: RedisConnectionFactory) => () =>
        pingRedis(client, () => factory.describeOutage(client)),
    }),
  ],
  exports: [RedisConnectionFactory, REDIS_CLIENT],
})
export class RedisModule {}
