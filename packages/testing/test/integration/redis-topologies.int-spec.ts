import { RedisKeys } from '@strata/cache-keys';
import {
  createRedisClient,
  isClusterClient,
  keyHolders,
  parseHostPort,
  type RedisClient,
  type RedisTopology,
} from '@strata/redis-topology';
import {
  deleteRedisPrefix,
  startRedisCluster,
  startRedisSentinelSet,
  testRedisPrefix,
  waitFor,
  type RedisClusterFixture,
  type RedisSentinelSet,
} from '@strata/testing';

const open: RedisClient[] = [];
function client(topology: RedisTopology, options = {}): RedisClient {
  const c = createRedisClient(topology, options);
  c.on('error', () => undefined);
  open.push(c);
  return c;
}
afterEach(() => {
  for (const c of open.splice(0)) c.disconnect();
});

describe('startRedisCluster', () => {
  let cluster: RedisClusterFixture;
  let topology: RedisTopology;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    topology = { kind: 'cluster', nodes: cluster.nodes.map(parseHostPort) };
  });
  afterAll(() => cluster?.stop());

  it('runs three primaries that share the slots', async () => {
    const c = client(topology);
    expect(isClusterClient(c)).toBe(true);
    await c.set('probe', '1');
    const masters = keyHolders(c);
    expect(masters).toHaveLength(3);
    const owned = await Promise.all(masters.map((m) => m.dbsize()));
    expect(owned.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('deleteRedisPrefix scans every master', async () => {
    const c = client(topology);
    const prefix = testRedisPrefix('cl');
    const keys = new RedisKeys(prefix);
    const written = Array.from({ length: 60 }, (_, i) => keys.blob(`b${i}`));
    for (const k of written) await c.set(k, 'x');
    const counts = await Promise.all(keyHolders(c).map((m) => m.keys(`${prefix}:*`)));
    // The keys really are spread over several masters, so one SCAN would have missed some.
    expect(counts.filter((k) => k.length > 0).length).toBeGreaterThan(1);
    expect(await deleteRedisPrefix(prefix, topology)).toBe(60);
    for (const m of keyHolders(c)) expect(await m.keys(`${prefix}:*`)).toEqual([]);
  });

  it('carries pub/sub on the events channel between two cluster clients', async () => {
    const channel = new RedisKeys(testRedisPrefix('cl')).eventsChannel();
    const sub = client(topology);
    const pub = client(topology);
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe(channel);
    await waitFor(async () => {
      await pub.publish(channel, 'hello');
      return got.includes('hello');
    });
  });
});

describe('startRedisSentinelSet', () => {
  let set: RedisSentinelSet;
  beforeAll(async () => {
    set = await startRedisSentinelSet();
  });
  afterAll(() => set?.stop());

  it('fails over when the primary is killed, and a Sentinel client follows', async () => {
    const topology: RedisTopology = {
      kind: 'sentinel',
      name: set.name,
      sentinels: set.sentinels.map(parseHostPort),
    };
    const c = client(topology, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    await waitFor(() => c.status === 'ready');
    const first = await set.currentPrimaryPort();
    expect(first).toBe(set.servers[0].port);
    await c.set('before', '1');
    // The replica has it before the primary dies (WAIT: acknowledged by one replica).
    expect(await c.call('WAIT', 1, 10_000)).toBe(1);

    await set.servers[0].kill('SIGKILL');
    const promoted = await waitFor(
      async () => {
        const port = await set.currentPrimaryPort();
        return port !== first ? port : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'sentinels promoting the replica' },
    );
    expect(promoted).toBe(set.servers[1].port);
    // Writes go to the promoted replica once the client re-asked the sentinels.
    await waitFor(async () => (await c.set('after', '2')) === 'OK', {
      timeoutMs: 30_000,
      what: 'a write after the failover',
    });
    expect(await c.get('before')).toBe('1');
  });
});
