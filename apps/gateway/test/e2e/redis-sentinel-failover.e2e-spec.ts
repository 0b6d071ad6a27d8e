import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildIdentityModel,
  parseHostPort,
  startRedisSentinelSet,
  waitFor,
  type RedisSentinelSet,
} from '@strata/testing';
import { request } from '../support/http-client';
import { Stack } from '../support/stack';

// Short enough that a job lost with the old primary is answered (504) and retried well within
// the test; long enough for a cold load on a busy machine.
const INFER_TIMEOUT_MS = 15_000;
const CLIENTS = 4;
/** Successful requests wanted before the primary is killed, and after the failover. */
const BEFORE = 20;
const AFTER = 40;

interface Outcome {
  readonly attempts: number;
  readonly refusals: Record<string, number>;
}

/**
 * The platform on a real Sentinel set-up (primary, replica, three sentinels on loopback), every
 * service configured only with REDIS_SENTINELS and REDIS_SENTINEL_NAME. The primary is killed with
 * SIGKILL under inference traffic: the sentinels promote the replica and every service follows.
 * A client retries a request refused during the failover window (503, 504, a reset connection)
 * with the same input; every request submitted must end with the right answer.
 */
describe('Redis Sentinel failover under inference traffic (gateway, loader, worker, telemetry)', () => {
  let sentinels: RedisSentinelSet;
  let stack: Stack;
  let key: string;

  beforeAll(async () => {
    sentinels = await startRedisSentinelSet({ name: 'strata-e2e' });
    stack = new Stack({
      workers: 1,
      gateway: { INFER_TIMEOUT_MS: String(INFER_TIMEOUT_MS) },
      redis: {
        env: {
          REDIS_SENTINELS: sentinels.sentinels.join(','),
          REDIS_SENTINEL_NAME: sentinels.name,
        },
        topology: {
          kind: 'sentinel',
          name: sentinels.name,
          sentinels: sentinels.sentinels.map(parseHostPort),
        },
      },
    });
    await stack.start();
    await stack.publish('echo', {
      'weights.onnx': buildIdentityModel({ datatype: 'FP32', shape: ['batch', 4] }),
    });
    key = (await stack.apiKey(['infer'])).secret;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await sentinels?.stop();
  }, 60_000);

  /** One logical request: retried until it gets its answer (or the bound runs out). */
  async function inferUntilAnswered(values: number[]): Promise<Outcome> {
    const refusals: Record<string, number> = {};
    const deadline = Date.now() + 120_000;
    for (let attempt = 1; ; attempt++) {
      const res = await request(`${stack.gateway.url}/v2/models/echo/infer`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${key}`,
          // Every attempt must reach a worker: no prediction-cache answer.
          'cache-control': 'no-cache',
        },
        body: JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: values }],
        }),
        timeoutMs: INFER_TIMEOUT_MS + 10_000,
      }).catch((err: Error) => ({ status: 0, error: err.message }) as const);
      if (res.status === 200 && 'json' in res) {
        const body = res.json<{ outputs: { name: string; data: number[] }[] }>();
        expect(body.outputs).toEqual([expect.objectContaining({ name: 'output', data: values })]);
        return { attempts: attempt, refusals };
      }
      // Only what a Redis outage may cause is retried; anything else is a failure.
      const retriable = res.status === 0 || res.status === 503 || res.status === 504;
      if (!retriable || Date.now() > deadline) {
        const detail = 'body' in res ? res.body.toString() : res.error;
        throw new Error(`request ${JSON.stringify(values)}: ${res.status} ${detail}`);
      }
      refusals[res.status] = (refusals[res.status] ?? 0) + 1;
      await sleep(200);
    }
  }

  it('follows the failover when the primary is killed: every request submitted gets its answer', async () => {
    const firstPrimary = await sentinels.currentPrimaryPort();
    expect(firstPrimary).toBe(sentinels.servers[0].port);

    let submitted = 0;
    let answered = 0;
    let answeredAfterFailover = 0;
    let failedOver = false;
    let stop = false;
    const outcomes: Outcome[] = [];

    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        submitted++;
        const outcome = await inferUntilAnswered([c, i, submitted, -1]);
        outcomes.push(outcome);
        answered++;
        if (failedOver) answeredAfterFailover++;
        if (answeredAfterFailover >= AFTER) stop = true;
      }
    };
    const traffic = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    try {
      await waitFor(() => answered >= BEFORE, {
        timeoutMs: 120_000,
        what: `${BEFORE} answers before the failover`,
      });
      await sentinels.servers[0].kill('SIGKILL');
      const promoted = await waitFor(
        async () => {
          const port = await sentinels.currentPrimaryPort();
          return port !== firstPrimary ? port : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the sentinels to promote the replica' },
      );
      expect(promoted).toBe(sentinels.servers[1].port);
      failedOver = true;
      await traffic;
    } finally {
      stop = true;
      await traffic.catch(() => undefined);
    }

    const retried = outcomes.filter((o) => o.attempts > 1);
    const refusals: Record<string, number> = {};
    for (const o of retried)
      for (const [status, n] of Object.entries(o.refusals))
        refusals[status] = (refusals[status] ?? 0) + n;
    // For the record: how the failover window looked to clients.
    console.log(
      `sentinel failover: ${submitted} requests submitted, ${answered} answered ` +
        `(${answeredAfterFailover} after the promotion), ${retried.length} needed retries ` +
        `(refusals by status: ${JSON.stringify(refusals)})`,
    );
    expect(answered).toBe(submitted);
    expect(answeredAfterFailover).toBeGreaterThanOrEqual(AFTER);

    // Every service is connected to the new primary and ready again.
    const services = [stack.gateway, stack.loader, stack.telemetry, ...stack.workers.values()];
    for (const s of services) await s.waitForReady(30_000);
  }, 300_000);
});
