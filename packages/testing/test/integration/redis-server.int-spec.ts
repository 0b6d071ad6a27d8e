import { startRedisServer, type RedisServer } from '@strata/testing';
import { Redis } from 'ioredis';

describe('startRedisServer', () => {
  let server: RedisServer;
  afterAll(() => server?.stop());

  it('runs a private redis-server that can be stopped and restarted on the same port', async () => {
    server = await startRedisServer();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');

      await server.stop();
      expect(server.running).toBe(false);
      await server.stop(); // idempotent

      await server.restart();
      expect(server.running).toBe(true);
      const again = new Redis(server.url, { maxRetriesPerRequest: 1 });
      // No persistence: a restarted server is empty.
      expect(await again.get('k')).toBeNull();
      again.disconnect();
    } finally {
      client.disconnect();
    }
  });
});
