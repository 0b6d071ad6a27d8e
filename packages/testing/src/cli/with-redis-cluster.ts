import { spawn } from 'node:child_process';
// The fixture module itself, not the package index: the index pulls in @jest/globals, which
// refuses to load outside Jest.
import { startRedisCluster } from '../redis-cluster.fixture';

/**
 * `node packages/testing/dist/cli/with-redis-cluster.js <command> [args...]`: starts a 3-primary
 * Redis Cluster on loopback, runs the command with STRATA_TEST_REDIS_CLUSTER_NODES set (so
 * `serviceEnv()`, `testRedisClient()` and `deleteRedisPrefix()` use the cluster), stops the
 * cluster and exits with the command's status.
 */
async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    process.stderr.write('usage: with-redis-cluster <command> [args...]\n');
    return 2;
  }
  const cluster = await startRedisCluster();
  const nodes = cluster.nodes.join(',');
  process.stdout.write(`with-redis-cluster: 3 primaries at ${nodes}\n`);
  try {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: { ...process.env, STRATA_TEST_REDIS_CLUSTER_NODES: nodes },
    });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGTERM', forward('SIGTERM'));
    return await new Promise<number>((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`with-redis-cluster: ${err.message}\n`);
        resolve(127);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`with-redis-cluster: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
