import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { track } from './child-process.registry';
import { waitFor } from './wait-for.util';

/** One `redis-server` process (data, replica or sentinel) of a multi-process fixture. */
export interface RedisProcess {
  readonly port: number;
  readonly running: boolean;
  /** Sends `signal` and waits for the exit. Idempotent. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** A short-lived admin connection (the caller disconnects it). */
  admin(): Redis;
  output(): string;
}

export function adminClient(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  return client;
}

/** Runs `fn` on a fresh admin connection to `port`, always closing it. */
export async function withAdmin<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const client = adminClient(port);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** Starts `redis-server <args>` (tracked: killed when the test process exits), waits for PING. */
export async function startRedisProcess(
  label: string,
  port: number,
  args: readonly string[],
): Promise<RedisProcess> {
  let log = '';
  const proc: ChildProcess = spawn('redis-server', [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.stdout?.on('data', (d) => (log = (log + d.toString()).slice(-20_000)));
  proc.stderr?.on('data', (d) => (log = (log + d.toString()).slice(-20_000)));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  await waitFor(
    async () => {
      if (!running()) throw new Error(`${label} exited: ${log.slice(-500)}`);
      return withAdmin(port, async (c) => (await c.ping()) === 'PONG');
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `${label} on port ${port}` },
  );
  return {
    port,
    get running() {
      return running();
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!running()) return;
      proc.kill(signal);
      await exited;
    },
    admin: () => adminClient(port),
    output: () => log,
  };
}
