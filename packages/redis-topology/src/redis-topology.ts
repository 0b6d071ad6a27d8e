/** A node address from REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Which Redis deployment the platform talks to; chosen by configuration only. */
export type RedisTopology =
  | { readonly kind: 'standalone'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      /** Master group name the sentinels monitor. */
      readonly name: string;
      readonly sentinelPassword?: string;
      readonly password?: string;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly password?: string };

/** The Redis part of a loaded `@strata/config` (validated there: exactly one topology). */
export interface RedisTopologySettings {
  readonly REDIS_URL: string;
  readonly REDIS_SENTINELS?: readonly string[];
  readonly REDIS_SENTINEL_NAME?: string;
  readonly REDIS_SENTINEL_PASSWORD?: string;
  readonly REDIS_CLUSTER_NODES?: readonly string[];
  readonly REDIS_PASSWORD?: string;
}

/** `host:port` or `[ipv6]:port`. */
export function parseHostPort(value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`not a host:port: ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2], port };
}

export function redisTopologyOf(settings: RedisTopologySettings): RedisTopology {
  const cluster = settings.REDIS_CLUSTER_NODES ?? [];
  if (cluster.length > 0) {
    return {
      kind: 'cluster',
      nodes: cluster.map(parseHostPort),
      password: settings.REDIS_PASSWORD,
    };
  }
  const sentinels = settings.REDIS_SENTINELS ?? [];
  if (sentinels.length > 0) {
    if (!settings.REDIS_SENTINEL_NAME) throw new Error('REDIS_SENTINELS needs REDIS_SENTINEL_NAME');
    return {
      kind: 'sentinel',
      sentinels: sentinels.map(parseHostPort),
      name: settings.REDIS_SENTINEL_NAME,
      sentinelPassword: settings.REDIS_SENTINEL_PASSWORD,
      password: settings.REDIS_PASSWORD,
    };
  }
  return { kind: 'standalone', url: settings.REDIS_URL };
}

const hostPorts = (nodes: readonly HostPort[]) =>
  nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`));

/** For logs and error messages: never includes a password. */
export function describeTopology(topology: RedisTopology): string {
  switch (topology.kind) {
    case 'standalone': {
      try {
        const u = new URL(topology.url);
        return `standalone ${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
      } catch {
        return 'standalone';
      }
    }
    case 'sentinel':
      return `sentinel "${topology.name}" via ${hostPorts(topology.sentinels).join(',')}`;
    case 'cluster':
      return `cluster seeded by ${hostPorts(topology.nodes).join(',')}`;
  }
}
