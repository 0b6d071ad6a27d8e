import type { ConfigIssue } from './load-config';
import type { VariableName } from './schema';

const SELECTORS = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;

/**
 * The Redis topology is chosen by which of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES is
 * set (none: REDIS_URL's default). Variables of one topology set beside another's are refused
 * rather than ignored, so a half-migrated deployment does not silently talk to the wrong Redis.
 */
export function redisTopologyIssues(
  values: Readonly<Record<string, unknown>>,
  isSet: (name: VariableName) => boolean,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const chosen = SELECTORS.filter((name) => isSet(name));
  if (chosen.length > 1) {
    for (const name of chosen.slice(1)) {
      issues.push({
        variable: name,
        message: `set together with ${chosen[0]}: set exactly one of ${SELECTORS.join(', ')} (the Redis topology)`,
      });
    }
  }
  for (const name of ['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const) {
    const list = values[name];
    if (isSet(name) && Array.isArray(list) && list.length === 0) {
      issues.push({ variable: name, message: 'needs at least one host:port' });
    }
  }
  const sentinel = isSet('REDIS_SENTINELS');
  if (sentinel && !isSet('REDIS_SENTINEL_NAME')) {
    issues.push({
      variable: 'REDIS_SENTINEL_NAME',
      message: 'required with REDIS_SENTINELS (the master group name the sentinels monitor)',
    });
  }
  if (!sentinel) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (isSet(name)) issues.push({ variable: name, message: 'only used with REDIS_SENTINELS' });
    }
  }
  if (isSet('REDIS_PASSWORD') && !sentinel && !isSet('REDIS_CLUSTER_NODES')) {
    issues.push({
      variable: 'REDIS_PASSWORD',
      message:
        'only used with REDIS_SENTINELS or REDIS_CLUSTER_NODES (standalone: put it in REDIS_URL)',
    });
  }
  return issues;
}
