import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from './free-port.util';
import { startRedisProcess, withAdmin, type RedisProcess } from './redis-process.util';
import { waitFor } from './wait-for.util';

export interface RedisSentinelSet {
  /** The master group name (REDIS_SENTINEL_NAME). */
  readonly name: string;
  /** `127.0.0.1:port` of every sentinel (REDIS_SENTINELS). */
  readonly sentinels: readonly string[];
  /** The data servers, primary first as started (roles change on failover). */
  readonly servers: readonly RedisProcess[];
  readonly sentinelProcesses: readonly RedisProcess[];
  /** The port the sentinels currently name as primary. */
  currentPrimaryPort(): Promise<number>;
  /** Stops everything and removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

// `--dir`: a replica writes the RDB of its full sync to disk even with `--save ''`.
const dataArgs = (dir: string) => [
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dir,
];

/**
 * A real Sentinel set-up on loopback: a primary, `replicas` replicas and `sentinels` sentinels
 * (`redis-server --sentinel`; quorum 2), all on free ports, config files in a temp directory.
 * Resolves once every sentinel knows the replicas and the other sentinels and the replicas are
 * in sync, so a failover can happen as soon as the primary goes.
 */
export async function startRedisSentinelSet(
  options: { name?: string; replicas?: number; sentinels?: number; downAfterMs?: number } = {},
): Promise<RedisSentinelSet> {
  const name = options.name ?? 'strata-test';
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const downAfterMs = options.downAfterMs ?? 1000;
  const quorum = Math.min(2, sentinelCount);
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-redis-sentinel-'));
  const servers: RedisProcess[] = [];
  const sentinelProcesses: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinelProcesses, ...servers].map((p) => p.kill('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primaryPort = await freePort();
    servers.push(
      await startRedisProcess('sentinel-set primary', primaryPort, [
        '--port',
        String(primaryPort),
        ...dataArgs(dir),
      ]),
    );
    for (let i = 0; i < replicaCount; i++) {
      const port = await freePort();
      servers.push(
        await startRedisProcess(`sentinel-set replica ${i}`, port, [
          '--port',
          String(port),
          ...dataArgs(dir),
          '--replicaof',
          '127.0.0.1',
          String(primaryPort),
        ]),
      );
    }
    await waitFor(
      async () => {
        for (const r of servers.slice(1)) {
          const info = await withAdmin(r.port, (c) => c.info('replication'));
          if (!info.includes('master_link_status:up')) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, what: 'replicas in sync' },
    );
    for (let i = 0; i < sentinelCount; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinelProcesses.push(
        await startRedisProcess(`sentinel ${port}`, port, [conf, '--sentinel']),
      );
    }
    await waitFor(
      async () => {
        for (const s of sentinelProcesses) {
          const [replicas, peers] = await withAdmin(s.port, async (c) => [
            (await c.call('SENTINEL', 'REPLICAS', name)) as unknown[],
            (await c.call('SENTINEL', 'SENTINELS', name)) as unknown[],
          ]);
          if (replicas.length < replicaCount || peers.length < sentinelCount - 1) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'sentinels discovering replicas and each other' },
    );
    const currentPrimaryPort = async () => {
      for (const s of sentinelProcesses) {
        if (!s.running) continue;
        const addr = await withAdmin(s.port, (c) =>
          c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name),
        ).catch(() => undefined);
        if (Array.isArray(addr)) return Number(addr[1]);
      }
      throw new Error('no sentinel answered');
    };
    return {
      name,
      sentinels: sentinelProcesses.map((s) => `127.0.0.1:${s.port}`),
      servers,
      sentinelProcesses,
      currentPrimaryPort,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
