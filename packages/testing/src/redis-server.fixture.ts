import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { track } from './child-process.registry';
import { freePort } from './free-port.util';
import { waitFor } from './wait-for.util';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Stops the server (SIGTERM) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port (data is gone: no persistence). */
  restart(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\r\n')) socket.end();
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(answer.startsWith('+PONG')));
  });
}

/**
 * A private redis-server (`redis-server` on PATH) on its own port, for tests that stop and
 * restart Redis under a running service without touching the shared one.
 */
export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  const start = async (): Promise<void> => {
    log = '';
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(proc);
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.stdout?.on('data', (d) => (log += d.toString()));
    proc.stderr?.on('data', (d) => (log += d.toString()));
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited: ${log.slice(-500)}`);
        return ping(port);
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `redis-server on port ${port}` },
    );
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
