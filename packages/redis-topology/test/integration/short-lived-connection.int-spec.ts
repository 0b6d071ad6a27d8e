import { createServer, type Server, type Socket } from 'node:net';
import { ShortLivedConnection } from '@strata/redis-topology';

// The machine's shared Redis, as @strata/testing finds it (which this package cannot import: it
// depends on this package).
// eslint-disable-next-line no-restricted-properties
const REDIS_URL = process.env.STRATA_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

describe('ShortLivedConnection', () => {
  it('connects on first use, runs the work, and closes', async () => {
    const conn = ShortLivedConnection.connect(REDIS_URL);
    expect(conn.client.status).toBe('wait');
    expect(await conn.run('PING', (redis) => redis.ping())).toBe('PONG');
    expect(conn.client.status).toBe('ready');
    await conn.close();
    // QUIT is answered before the socket closes.
    if (conn.client.status !== 'end') await new Promise((r) => conn.client.once('end', r));
    expect(conn.client.status).toBe('end');
  });

  it('fails fast, naming the call, when nothing answers', async () => {
    // A server that accepts connections and never answers: the bound, not a refusal, ends it.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const conn = ShortLivedConnection.connect(`redis://127.0.0.1:${port}`, 300);
    try {
      await expect(conn.run('Redis PUBLISH', (redis) => redis.publish('c', 'm'))).rejects.toThrow(
        /Redis PUBLISH: no answer within 300 ms|connect|Connection/,
      );
    } finally {
      await conn.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('refuses at once when the server is not there', async () => {
    const conn = ShortLivedConnection.connect('redis://127.0.0.1:9', 2000);
    await expect(conn.run('Redis INCR', (redis) => redis.incr('k'))).rejects.toThrow();
    await conn.close();
  });
});
