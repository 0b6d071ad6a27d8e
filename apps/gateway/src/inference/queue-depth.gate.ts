import { UnavailableError } from '../http/http-errors';

/**
 * Refuses work while the `infer` queue is deeper than the limit. The depth is read at most once
 * per `sampleMs` however many requests arrive (they share the read in flight); between reads
 * the last value stands.
 */
export class QueueDepthGate {
  private value = 0;
  private sampledAt = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<number>;

  constructor(
    private readonly sample: () => Promise<number>,
    private readonly options: { maxDepth: number; sampleMs: number; retryAfterSeconds?: number },
    private readonly onSample: (depth: number) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The depth, read again if the last read is older than `sampleMs`. */
  async depth(): Promise<number> {
    if (this.now() - this.sampledAt < this.options.sampleMs) return this.value;
    this.inFlight ??= this.sample()
      .then((depth) => {
        this.value = depth;
        this.sampledAt = this.now();
        this.onSample(depth);
        return depth;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** Throws a 503 (with Retry-After) when the queue is over the limit; 0 = no limit. */
  async check(): Promise<void> {
    if (this.options.maxDepth <= 0) return;
    const depth = await this.depth();
    if (depth > this.options.maxDepth) {
      throw new UnavailableError(
        `the inference queue is full (${depth} jobs waiting, limit ${this.options.maxDepth}); try again shortly`,
        this.options.retryAfterSeconds ?? 1,
      );
    }
  }
}
