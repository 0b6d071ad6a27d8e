import { ConfigError, loadConfig, type Env } from '@strata/config';

const DB = 'postgres://postgres@127.0.0.1:5432/strata';

function problems(env: Env): Record<string, string> {
  try {
    loadConfig('gateway', { DATABASE_URL: DB, ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return Object.fromEntries((e as ConfigError).issues.map((i) => [i.variable, i.message]));
  }
  throw new Error('expected a ConfigError');
}

describe('Redis topology configuration', () => {
  it('is standalone on REDIS_URL by default', () => {
    const c = loadConfig('gateway', { DATABASE_URL: DB });
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.REDIS_SENTINELS).toBeUndefined();
    expect(c.REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('parses a Sentinel topology', () => {
    const c = loadConfig('gateway', {
      DATABASE_URL: DB,
      REDIS_SENTINELS: ' 10.0.0.1:26379, sentinel-2.local:26380,[::1]:26381 ',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 's3cret',
      REDIS_PASSWORD: 'data-pass',
    });
    expect(c.REDIS_SENTINELS).toEqual(['10.0.0.1:26379', 'sentinel-2.local:26380', '[::1]:26381']);
    expect(c.REDIS_SENTINEL_NAME).toBe('mymaster');
    expect(c.REDIS_SENTINEL_PASSWORD).toBe('s3cret');
    expect(c.REDIS_PASSWORD).toBe('data-pass');
  });

  it('parses a Cluster topology', () => {
    const c = loadConfig('inference-worker', {
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
    });
    expect(c.REDIS_CLUSTER_NODES).toEqual(['127.0.0.1:7000', '127.0.0.1:7001']);
  });

  it('refuses two topologies at once, naming both', () => {
    const p = problems({
      REDIS_URL: 'redis://r:6379',
      REDIS_SENTINELS: 's:26379',
      REDIS_SENTINEL_NAME: 'm',
      REDIS_CLUSTER_NODES: 'c:7000',
    });
    expect(Object.keys(p).sort()).toEqual(['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS']);
    expect(p.REDIS_SENTINELS).toMatch(/set together with REDIS_URL: set exactly one of/);
  });

  it('lists every topology problem together with the others', () => {
    const p = problems({
      REDIS_SENTINELS: 'no-port,h:99999',
      REDIS_CLUSTER_NODES: ',',
      REDIS_PASSWORD: 'x',
      GATEWAY_PORT: 'x',
    });
    expect(Object.keys(p).sort()).toEqual([
      'GATEWAY_PORT',
      'REDIS_CLUSTER_NODES',
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_NAME',
    ]);
    expect(p.REDIS_SENTINELS).toMatch(/expected comma-separated host:port/);
    expect(p.REDIS_SENTINEL_NAME).toMatch(/required with REDIS_SENTINELS/);
  });

  it('refuses Sentinel settings without sentinels and a password outside its topologies', () => {
    const p = problems({
      REDIS_SENTINEL_NAME: 'm',
      REDIS_SENTINEL_PASSWORD: 'hunter2',
      REDIS_PASSWORD: 'hunter3',
    });
    expect(p).toEqual({
      REDIS_SENTINEL_NAME: 'only used with REDIS_SENTINELS',
      REDIS_SENTINEL_PASSWORD: 'only used with REDIS_SENTINELS',
      REDIS_PASSWORD:
        'only used with REDIS_SENTINELS or REDIS_CLUSTER_NODES (standalone: put it in REDIS_URL)',
    });
  });

  it('refuses an empty node list', () => {
    expect(problems({ REDIS_CLUSTER_NODES: ' , ' })).toEqual({
      REDIS_CLUSTER_NODES: 'needs at least one host:port',
    });
  });
});
