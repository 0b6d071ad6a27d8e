import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.util';
import { startRedisProcess, withAdmin, type RedisProcess } from './redis-process.util';
import { waitFor } from './wait-for.util';

const run = promisify(execFile);

export interface RedisClusterFixture {
  /** `127.0.0.1:port` of every primary: a REDIS_CLUSTER_NODES value. */
  readonly nodes: readonly string[];
  readonly primaries: readonly RedisProcess[];
  /** Stops every node and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster on loopback: `primaries` cluster-enabled redis-servers (no replicas) on
 * free ports, slots spread by `redis-cli --cluster create`, in a temp directory removed on stop.
 * Each node's bus port is chosen too (`cluster-port`), so port + 10000 need not be free.
 */
export async function startRedisCluster(
  options: { primaries?: number } = {},
): Promise<RedisClusterFixture> {
  const count = options.primaries ?? 3;
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-redis-cluster-'));
  const primaries: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(primaries.map((p) => p.kill('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    while (ports.length < count * 2) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    for (let i = 0; i < count; i++) {
      const port = ports[i];
      const nodeDir = path.join(dir, String(port));
      await run('mkdir', ['-p', nodeDir]);
      primaries.push(
        await startRedisProcess(`cluster node ${port}`, port, [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(ports[count + i]),
          '--cluster-config-file',
          path.join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
          '--dir',
          nodeDir,
          '--save',
          '',
          '--appendonly',
          'no',
        ]),
      );
    }
    const nodes = primaries.map((p) => `127.0.0.1:${p.port}`);
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 30_000,
      },
    );
    // Every node must agree the cluster is whole before clients connect, or they see CLUSTERDOWN.
    await waitFor(
      async () => {
        for (const p of primaries) {
          const info = await withAdmin(p.port, (c) => c.cluster('INFO'));
          if (!/cluster_state:ok/.test(String(info))) return false;
          const known = await withAdmin(p.port, (c) => c.cluster('NODES'));
          if (String(known).trim().split('\n').length !== count) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'cluster_state:ok on every node' },
    );
    return { nodes, primaries, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
