import { Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@strata/config';
import {
  createLogger,
  provideReadinessCheck,
  ServiceKitModule,
  ServiceLifecycle,
} from '@strata/service-kit';

const state = { redis: true };

@Module({
  providers: [
    provideReadinessCheck({
      name: 'redis',
      useFactory: () => async () => {
        if (!state.redis) throw new Error('connect ECONNREFUSED 127.0.0.1:6390');
      },
    }),
    provideReadinessCheck({ name: 'postgres', useFactory: () => async () => undefined }),
  ],
})
class ChecksModule {}

describe('health and metrics endpoints', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const logger = createLogger({ service: 'gateway', level: 'silent', format: 'json' });
    const config = loadConfig('gateway', { DATABASE_URL: 'postgresql://u@h/db' });
    const moduleRef = await Test.createTestingModule({
      imports: [ServiceKitModule.forRoot({ service: 'gateway', config, logger }), ChecksModule],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(() => app.close());

  beforeEach(() => {
    state.redis = true;
  });

  it('/healthz is 200 while running', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 with every check', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', checks: { redis: 'ok', postgres: 'ok' } });
  });

  it('/readyz is 503 naming the failing check and its error', async () => {
    state.redis = false;
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: 'unavailable',
      failing: ['redis'],
      checks: { redis: 'connect ECONNREFUSED 127.0.0.1:6390', postgres: 'ok' },
    });
  });

  it('/metrics serves the text format with the service label', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toMatch(/^process_cpu_user_seconds_total\{service="gateway"\} /m);
  });

  // Last: shutting down is one-way.
  it('both probes are 503 once shutting down', async () => {
    app.get(ServiceLifecycle).markShuttingDown();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });
    const live = await app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(503);
  });
});
