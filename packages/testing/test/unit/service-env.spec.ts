import { loadConfig } from '@strata/config';
import { portVariable, serviceEnv } from '@strata/testing';

const SERVICES = ['gateway', 'model-loader', 'inference-worker', 'telemetry-sender'] as const;

describe('serviceEnv', () => {
  it.each(SERVICES)('is a valid configuration for %s', async (service) => {
    const env = await serviceEnv();
    const config = loadConfig(service, env);
    expect(config.BIND_HOST).toBe('127.0.0.1');
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.REDIS_KEY_PREFIX).not.toBe('strata');
    expect(String(config[portVariable(service) as keyof typeof config])).toBe(
      env[portVariable(service)],
    );
  });

  it('gives every call its own prefix, port and schema', async () => {
    const [a, b] = await Promise.all([serviceEnv(), serviceEnv()]);
    expect(a.REDIS_KEY_PREFIX).not.toBe(b.REDIS_KEY_PREFIX);
    expect(a.DATABASE_URL).not.toBe(b.DATABASE_URL);
    expect(a.DATABASE_URL).toMatch(/[?&]schema=t_/);
  });

  it('applies overrides; undefined removes a variable', async () => {
    const env = await serviceEnv({ LOG_LEVEL: 'debug', S3_ENDPOINT: undefined });
    expect(env.LOG_LEVEL).toBe('debug');
    expect('S3_ENDPOINT' in env).toBe(false);
  });
});

describe('portVariable', () => {
  it('names the port variable of a service from the schema', () => {
    expect(portVariable('model-loader')).toBe('MODEL_LOADER_PORT');
    expect(() => portVariable('cli')).toThrow(/no port variable/);
  });
});
