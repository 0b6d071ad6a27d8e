import { ConfigError, loadConfig, SCHEMA, renderConfigTable, type VarSpec } from '@strata/config';
import * as fs from 'node:fs';
import * as path from 'node:path';

const DB = 'postgres://postgres@127.0.0.1:5432/strata';

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig('gateway', { DATABASE_URL: DB });
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.REDIS_KEY_PREFIX).toBe('strata');
    expect(c.MAX_ACTIVE_MODELS).toBe(8);
    expect(c.AUTH_CACHE_TTL).toBe(900);
    expect(c.MODEL_METADATA_CACHE_TTL).toBe(3600);
    expect(c.WORKFLOWS_DEFINITION_CACHE_EXPIRY).toBe(900);
    expect(c.TELEMETRY_FLUSH_INTERVAL).toBe(10);
    expect(c.DISABLE_INFERENCE_CACHE).toBe(false);
    expect(c.MEMORY_FREE_THRESHOLD).toBe(0);
    expect(c.CACHE_DOMAIN).toBe('local');
    expect(c.GATEWAY_PORT).toBe(8080);
    expect(path.isAbsolute(c.MODEL_CACHE_DIR)).toBe(true);
    expect(c.S3_ENDPOINT).toBeUndefined();
  });

  it('parses typed values', () => {
    const c = loadConfig('model-loader', {
      DATABASE_URL: DB,
      S3_BUCKET: 'models',
      MODEL_DISK_CACHE_MAX_BYTES: '2GiB',
      DISK_CACHE_CLEANUP: 'false',
      S3_FORCE_PATH_STYLE: '1',
    });
    expect(c.MODEL_DISK_CACHE_MAX_BYTES).toBe(2 * 2 ** 30);
    expect(c.DISK_CACHE_CLEANUP).toBe(false);
    expect(c.S3_FORCE_PATH_STYLE).toBe(true);
    expect(
      loadConfig('cli', { DATABASE_URL: DB, S3_BUCKET: 'b1b', MODEL_DISK_CACHE_MAX_BYTES: '500MB' })
        .MODEL_DISK_CACHE_MAX_BYTES,
    ).toBe(
      // the cli does not use the disk cap, so its value is the default, not the one given
      10 * 2 ** 30,
    );
  });

  it.each([
    ['REDIS_URL', 'http://x'],
    ['REDIS_URL', 'not a url'],
    ['REDIS_KEY_PREFIX', 'a:b'],
    ['REDIS_KEY_PREFIX', '{x}'],
    ['GATEWAY_PORT', '0'],
    ['GATEWAY_PORT', '8080.5'],
    ['GATEWAY_PORT', 'eighty'],
    ['AUTH_CACHE_TTL', '-1'],
    ['DISABLE_INFERENCE_CACHE', 'maybe'],
    ['TELEMETRY_FLUSH_INTERVAL', '5'],
    ['TELEMETRY_FLUSH_INTERVAL', '301'],
    ['MEMORY_FREE_THRESHOLD', '1.5'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://x'],
    ['TELEMETRY_SINK_URL', 'ftp://x'],
  ])('rejects %s=%j naming the variable', (name, value) => {
    const usedBy = (SCHEMA as Record<string, VarSpec<unknown>>)[name].usedBy;
    const service = usedBy === 'all' || usedBy.includes('gateway') ? 'gateway' : usedBy[0];
    const issues = issuesOf(() => loadConfig(service, { DATABASE_URL: DB, [name]: value }));
    expect(issues.map((i) => i.variable)).toEqual([name]);
    expect(issues[0].message).toMatch(/expected/);
  });

  it('rejects bad disk sizes and bucket names', () => {
    const issues = issuesOf(() =>
      loadConfig('model-loader', {
        DATABASE_URL: DB,
        S3_BUCKET: 'Bad_Bucket',
        MODEL_DISK_CACHE_MAX_BYTES: '12 parsecs',
      }),
    );
    expect(issues.map((i) => i.variable).sort()).toEqual([
      'MODEL_DISK_CACHE_MAX_BYTES',
      'S3_BUCKET',
    ]);
  });

  it('reports every problem at once, required ones included', () => {
    const err = (() => {
      try {
        loadConfig('model-loader', {
          REDIS_URL: 'nope',
          GATEWAY_PORT: 'x',
          MODEL_LOADER_PORT: '99999',
          CACHE_DOMAIN: 'UPPER',
        });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected failure');
    })();
    expect(err.issues.map((i) => i.variable).sort()).toEqual(
      // GATEWAY_PORT is not the loader's, so its bad value is not the loader's problem
      ['CACHE_DOMAIN', 'DATABASE_URL', 'MODEL_LOADER_PORT', 'REDIS_URL', 'S3_BUCKET'],
    );
    expect(err.message).toContain('model-loader (5 problems)');
    expect(err.message).toMatch(/DATABASE_URL: required/);
  });

  it('never echoes a secret value', () => {
    const issues = issuesOf(() =>
      loadConfig('gateway', { DATABASE_URL: 'postgres-ish://user:hunter2@db' }),
    );
    expect(issues[0].message).not.toContain('hunter2');
    expect(issues[0].message).toContain('hidden');
  });

  it('treats empty strings as unset', () => {
    const c = loadConfig('gateway', { DATABASE_URL: DB, LOG_LEVEL: '' });
    expect(c.LOG_LEVEL).toBe('info');
    expect(issuesOf(() => loadConfig('gateway', { DATABASE_URL: '' }))[0].variable).toBe(
      'DATABASE_URL',
    );
  });

  it('gives every variable a description and a form', () => {
    for (const [name, spec] of Object.entries(SCHEMA) as [string, VarSpec<unknown>][]) {
      expect(name).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(spec.description.length).toBeGreaterThan(10);
      if (spec.default !== undefined)
        expect(spec.parser.schema.safeParse(spec.default).success).toBe(true);
      if (spec.requiredBy) expect(spec.default).toBeUndefined();
    }
  });
});

describe('README configuration table', () => {
  it('is the one generated from the schema (run `pnpm config:docs`)', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../../../README.md'), 'utf8');
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(renderConfigTable());
  });
});
