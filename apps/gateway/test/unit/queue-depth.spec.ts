import { UnavailableError } from '../../src/http/http-errors';
import { QueueDepthGate } from '../../src/inference/queue-depth.gate';

describe('QueueDepthGate', () => {
  it('reads the depth at most once per interval, sharing the read in flight', async () => {
    let now = 0;
    let reads = 0;
    let depth = 5;
    const gate = new QueueDepthGate(
      async () => {
        reads += 1;
        return depth;
      },
      { maxDepth: 10, sampleMs: 100 },
      undefined,
      () => now,
    );
    await Promise.all(Array.from({ length: 50 }, () => gate.check()));
    expect(reads).toBe(1);
    depth = 11;
    now = 99;
    await gate.check();
    expect(reads).toBe(1);
    now = 100;
    await expect(gate.check()).rejects.toBeInstanceOf(UnavailableError);
    expect(reads).toBe(2);
    await expect(gate.check()).rejects.toMatchObject({ status: 503, retryAfter: 1 });
  });

  it('never reads with no limit', async () => {
    let reads = 0;
    const gate = new QueueDepthGate(async () => ++reads, { maxDepth: 0, sampleMs: 100 });
    await gate.check();
    expect(reads).toBe(0);
  });
});
