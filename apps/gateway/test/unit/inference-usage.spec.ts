import type { UsageEvent } from '@strata/cache-keys';
import { checkUsageEvent } from '@strata/usage';
import {
  InferenceUsage,
  batchItems,
  countAnswer,
  type UsageCaller,
} from '../../src/usage/inference-usage';

const CALLER: UsageCaller = { keyHash: 'f'.repeat(64), workspace: 'team-a' };
const TARGET = { model: 'resnet', version: 3 };

function setup() {
  const events: UsageEvent[] = [];
  let now = 1_800_000_000_000;
  const usage = new InferenceUsage({ emit: (e) => events.push(e) }, () => now);
  return { events, usage, advance: (ms: number) => (now += ms) };
}

describe('InferenceUsage', () => {
  it('emits one ok event with what the route counted', async () => {
    const { events, usage, advance } = setup();
    const answer = await usage.track(CALLER, TARGET, {}, async (tally) => {
      tally.items = 4;
      advance(25);
      countAnswer(tally, { computeMs: 7.5, cached: false });
      return 'answer';
    });
    expect(answer).toBe('answer');
    expect(events).toEqual([
      {
        apiKeyHash: CALLER.keyHash,
        workspace: 'team-a',
        model: 'resnet',
        version: 3,
        category: 'infer',
        items: 4,
        computeMs: 7.5,
        cached: false,
        outcome: 'ok',
        startedAt: 1_800_000_000_000,
        finishedAt: 1_800_000_000_025,
      },
    ]);
    expect(checkUsageEvent(events[0]).ok).toBe(true);
  });

  it('emits one error event and rethrows when the work fails', async () => {
    const { events, usage } = setup();
    const boom = new Error('worker said no');
    await expect(
      usage.track(CALLER, TARGET, { items: 1 }, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'error', items: 1, computeMs: 0, cached: false });
    expect(checkUsageEvent(events[0]).ok).toBe(true);
  });

  it('passes the cached flag of the answer through (the prediction cache will set it)', async () => {
    const { events, usage } = setup();
    await usage.track(CALLER, TARGET, {}, async (tally) => {
      countAnswer(tally, { computeMs: 0, cached: true });
    });
    expect(events[0]).toMatchObject({ cached: true, outcome: 'ok' });
  });

  it('emits nothing without a caller', async () => {
    const { events, usage } = setup();
    await usage.track(undefined, TARGET, {}, async () => 1);
    expect(events).toEqual([]);
  });

  it('never reports a finish before the start (clock steps back)', async () => {
    const { events, usage, advance } = setup();
    await usage.track(CALLER, TARGET, {}, async () => void advance(-1000));
    expect(events[0].finishedAt).toBe(events[0].startedAt);
  });
});

describe('batchItems', () => {
  it('is the first dimension of the first input, 1 for a scalar, 0 without inputs', () => {
    expect(batchItems([{ shape: [8, 3, 224, 224] }, { shape: [1] }])).toBe(8);
    expect(batchItems([{ shape: [] }])).toBe(1);
    expect(batchItems([])).toBe(0);
  });
});
