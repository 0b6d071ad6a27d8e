import * as path from 'node:path';
import { redisTopologyIssues } from './redis-topology.check';
import { SCHEMA, type ConfigFor, type VarSpec, type VariableName } from './schema';
import { SERVICES, type ServiceName } from './types';

export interface ConfigIssue {
  readonly variable: VariableName;
  readonly message: string;
}

/** Thrown once per boot with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(
    readonly service: ServiceName,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      `Invalid configuration for ${service} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

function usedBy(spec: VarSpec<unknown>, service: ServiceName): boolean {
  return spec.usedBy === 'all' || spec.usedBy.includes(service);
}

function shown(spec: VarSpec<unknown>, raw: string): string {
  return spec.secret ? `(hidden, ${raw.length} characters)` : JSON.stringify(raw);
}

/**
 * Reads and validates every variable `service` uses, once, at boot. Variables it does not use are
 * left at their defaults (or undefined) so one process never fails on another's setting.
 * Empty strings count as unset, as in most deployment tools.
 */
export function loadConfig<S extends ServiceName>(
  service: S,
  env: Env = process.env,
): ConfigFor<S> {
  if (!SERVICES.includes(service)) throw new Error(`unknown service ${String(service)}`);
  const out: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, spec] of Object.entries(SCHEMA) as [VariableName, VarSpec<unknown>][]) {
    const given = env[name];
    const isSet = given !== undefined && given !== '';
    const raw = usedBy(spec, service) && isSet ? given : spec.default;
    if (raw === undefined) {
      if (usedBy(spec, service) && spec.requiredBy?.includes(service)) {
        issues.push({ variable: name, message: `required, expected ${spec.parser.form}` });
      }
      out[name] = undefined;
      continue;
    }
    const result = spec.parser.schema.safeParse(raw);
    if (!result.success) {
      issues.push({
        variable: name,
        message: `expected ${spec.parser.form}, got ${shown(spec, raw)}`,
      });
      continue;
    }
    out[name] = result.data;
  }
  issues.push(...redisTopologyIssues(out, (name) => env[name] !== undefined && env[name] !== ''));
  if (issues.length > 0) throw new ConfigError(service, issues);
  out.MODEL_CACHE_DIR = path.resolve(out.MODEL_CACHE_DIR as string);
  return Object.freeze(out) as ConfigFor<S>;
}
