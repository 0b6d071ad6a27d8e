import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SCHEMA } from '@strata/config';
import { freePort } from './free-port.util';
import { databaseUrlFor, testRedisEnv } from './test-targets.util';
import { testRedisPrefix, uniqueId } from './unique-id.util';

export type ServiceEnv = Record<string, string>;

const PORT_VARIABLES = Object.keys(SCHEMA).filter((k) => k.endsWith('_PORT'));
const REDIS_TOPOLOGY_VARIABLES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'];

/**
 * A complete, valid environment for any service in a test: the shared test Redis (standalone,
 * or the cluster of STRATA_TEST_REDIS_CLUSTER_NODES), its own REDIS_KEY_PREFIX, a free
 * port (in every `*_PORT` variable, so it fits whichever service reads it), BIND_HOST=127.0.0.1,
 * LOG_LEVEL=info, JSON logs, S3 settings, a MODEL_CACHE_DIR under the OS temp dir (not created)
 * and a DATABASE_URL whose schema does not exist — pass `createTestDatabase().url` for tables.
 * An override of `undefined` removes the variable.
 */
export async function serviceEnv(
  overrides: Readonly<Record<string, string | undefined>> = {},
): Promise<ServiceEnv> {
  const port = String(await freePort());
  const id = uniqueId('env');
  const env: Record<string, string | undefined> = {
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    BIND_HOST: '127.0.0.1',
    ...Object.fromEntries(PORT_VARIABLES.map((v) => [v, port])),
    SHUTDOWN_TIMEOUT: '25',
    // The shared test Redis (standalone or cluster), unless the caller picks a topology itself.
    ...(REDIS_TOPOLOGY_VARIABLES.some((v) => v in overrides) ? {} : testRedisEnv()),
    REDIS_KEY_PREFIX: testRedisPrefix(),
    DATABASE_URL: databaseUrlFor(`t_${id.replace(/-/g, '_')}`),
    S3_ENDPOINT: 'http://127.0.0.1:9',
    S3_BUCKET: 'strata-test',
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    MODEL_CACHE_DIR: path.join(tmpdir(), 'strata-test', id, 'model-cache'),
    CACHE_DOMAIN: 'test',
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}
