import { JobError } from '@strata/cache-keys';
import type { RawTensor } from '@strata/tensors';
import type { Clock } from '../clock';
import { messageOf } from '../inference/infer-errors';
import type { ModelSession } from '../ort/model-session';
import type { BatchingPlan } from './batch-axes';
import { placeRequest } from './batch-key';
import { concatAlong, splitAlong } from './batch-tensors';

/** One validated request: inputs in the model's order, the outputs wanted. */
export interface BatchRequest {
  readonly inputs: readonly RawTensor[];
  readonly outputs: readonly string[];
  /** Unix ms; a request still waiting then is dropped with TIMEOUT. */
  readonly deadline: number;
}

export interface BatchAnswer {
  readonly outputs: ReadonlyMap<string, RawTensor>;
  /** Duration of the ONNX Runtime run that computed it. */
  readonly computeMs: number;
  /** Items (sum along the batch axis) in that run; 1 for an unbatched single item. */
  readonly batchSize: number;
}

/** What one ONNX Runtime run did, for metrics. */
export interface RunReport {
  readonly items: number;
  readonly requests: number;
  readonly computeMs: number;
  readonly ok: boolean;
}

export interface BatcherHooks {
  readonly clock: Clock;
  onRun?(report: RunReport): void;
  /** A batch that could not be split (or failed) and ran request by request. */
  onFallback?(reason: string): void;
}

interface Pending {
  readonly request: BatchRequest;
  readonly count: number;
  resolve(answer: BatchAnswer): void;
  reject(err: unknown): void;
}

interface Group {
  readonly key: string | undefined;
  readonly items: Pending[];
  size: number;
  timer?: NodeJS.Timeout;
  ready: boolean;
}

/**
 * Dynamic batching for one loaded model, one ONNX Runtime run at a time. A request that finds the
 * model idle runs at once (on the next turn of the event loop, so requests that arrived together
 * share the run) — or, with `maxDelayMs` above 0, after waiting that long for company. Requests
 * that arrive while a run is in progress gather into groups (see placeRequest) that run as soon
 * as it ends, or queue as soon as they hold `maxSize` items: under load the next batch forms while
 * the current one runs, and a lone request never waits for a timer (Triton's dynamic batcher with
 * `max_queue_delay` 0 works the same way). A group is concatenated along the batch axes, run once,
 * and the outputs are split back. A batch whose outputs cannot be split, or whose run fails, is
 * run again request by request, so one bad request fails alone.
 */
export class ModelBatcher {
  private readonly open = new Map<string, Group>();
  private readonly queue: Group[] = [];
  private running = false;
  private kicking = false;

  constructor(
    private readonly session: ModelSession,
    readonly plan: BatchingPlan,
    private readonly hooks: BatcherHooks,
  ) {}

  /** Requests waiting or running. */
  get pending(): number {
    let n = this.queue.reduce((s, g) => s + g.items.length, 0);
    for (const g of this.open.values()) if (!g.ready) n += g.items.length;
    return n;
  }

  submit(request: BatchRequest): Promise<BatchAnswer> {
    return new Promise<BatchAnswer>((resolve, reject) => {
      const placement = placeRequest(this.plan, request.inputs, request.outputs);
      if (!placement.batched) {
        this.enqueue({
          key: undefined,
          items: [{ request, count: 1, resolve, reject }],
          size: 1,
          ready: true,
        });
        return;
      }
      const item: Pending = { request, count: placement.count, resolve, reject };
      let group = this.open.get(placement.key);
      if (group && group.size + item.count > this.plan.maxSize) {
        this.close(group, true);
        group = undefined;
      }
      if (!group) {
        group = { key: placement.key, items: [], size: 0, ready: false };
        this.open.set(placement.key, group);
        if (!this.busy) {
          const g = group;
          if (this.plan.maxDelayMs > 0) {
            g.timer = setTimeout(() => this.close(g, false), this.plan.maxDelayMs);
          } else {
            this.kick();
          }
        }
        // Busy: the group runs when the run in progress ends (pump).
      }
      group.items.push(item);
      group.size += item.count;
      if (group.size >= this.plan.maxSize) this.close(group, true);
    });
  }

  private get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  /** Idle model: run what gathered in this turn of the event loop, once it is over. */
  private kick(): void {
    if (this.kicking) return;
    this.kicking = true;
    setImmediate(() => {
      this.kicking = false;
      this.pump();
    });
  }

  /**
   * Queues every open group that waits for no timer (oldest first). They stay open, so requests
   * that arrive before their run starts still join them.
   */
  private queueGathered(): void {
    for (const group of this.open.values()) {
      if (group.ready || group.timer !== undefined) continue;
      group.ready = true;
      this.queue.push(group);
    }
  }

  /**
   * The group is ready to run: full, gathered while the model was busy, or its first request has
   * waited `maxDelayMs`. A group that is not full stays open while it waits for the run before
   * it, so late requests still join.
   */
  private close(group: Group, full: boolean): void {
    if (group.timer) clearTimeout(group.timer);
    group.timer = undefined;
    if (full) this.forget(group);
    if (!group.ready) this.enqueue(group);
  }

  private forget(group: Group): void {
    if (group.key !== undefined && this.open.get(group.key) === group) this.open.delete(group.key);
  }

  private enqueue(group: Group): void {
    group.ready = true;
    this.queue.push(group);
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    // What gathered while the model was busy (or in this turn, when it was idle) runs now.
    if (this.queue.length === 0) this.queueGathered();
    const group = this.queue.shift();
    if (!group) return;
    this.running = true;
    void this.execute(group).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  private async execute(group: Group): Promise<void> {
    this.forget(group);
    const now = this.hooks.clock.now();
    const live: Pending[] = [];
    for (const item of group.items) {
      if (item.request.deadline <= now) {
        item.reject(
          new JobError('TIMEOUT', 'the deadline passed while the request waited for its batch'),
        );
      } else {
        live.push(item);
      }
    }
    if (live.length === 0) return;
    if (live.length === 1) {
      await this.runAlone(live[0]);
      return;
    }
    let outcome: Map<string, RawTensor> | undefined;
    let computeMs = 0;
    const items = live.reduce((s, p) => s + p.count, 0);
    try {
      const feeds = this.concat(live);
      const started = performance.now();
      outcome = await this.session.run(feeds, live[0].request.outputs);
      computeMs = performance.now() - started;
      this.hooks.onRun?.({ items, requests: live.length, computeMs, ok: true });
    } catch (err) {
      this.hooks.onFallback?.(`batched run failed (${messageOf(err)})`);
    }
    const parts = outcome && this.split(outcome, live, items);
    if (!parts) {
      for (const item of live) await this.runAlone(item);
      return;
    }
    live.forEach((item, i) => item.resolve({ outputs: parts[i], computeMs, batchSize: items }));
  }

  private async runAlone(item: Pending): Promise<void> {
    const started = performance.now();
    try {
      const outputs = await this.session.run(item.request.inputs, item.request.outputs);
      const computeMs = performance.now() - started;
      this.hooks.onRun?.({ items: item.count, requests: 1, computeMs, ok: true });
      item.resolve({ outputs, computeMs, batchSize: item.count });
    } catch (err) {
      this.hooks.onRun?.({
        items: item.count,
        requests: 1,
        computeMs: performance.now() - started,
        ok: false,
      });
      // Inputs were validated against the model before; what ONNX Runtime still refuses is a
      // shape or value the graph cannot take.
      item.reject(
        new JobError('INVALID_INPUT', `ONNX Runtime refused the input: ${messageOf(err)}`, {
          cause: err,
        }),
      );
    }
  }

  private concat(items: readonly Pending[]): RawTensor[] {
    const first = items[0].request.inputs;
    return first.map((input, i) => {
      const axis = this.plan.axes.inputs.get(input.name);
      if (axis === undefined) return input;
      return concatAlong(
        items.map((p) => p.request.inputs[i]),
        axis,
      );
    });
  }

  /** Per request, its slice of every output; undefined when an output does not split. */
  private split(
    outputs: ReadonlyMap<string, RawTensor>,
    items: readonly Pending[],
    total: number,
  ): Map<string, RawTensor>[] | undefined {
    const parts = items.map(() => new Map<string, RawTensor>());
    for (const [name, tensor] of outputs) {
      const axis = this.plan.axes.outputs.get(name);
      if (axis === undefined || tensor.shape[axis] !== total) {
        this.hooks.onFallback?.(
          `output "${name}" has ${axis === undefined ? 'no batch axis' : `size ${tensor.shape[axis] ?? 'none'} on axis ${axis}, not ${total}`}`,
        );
        return undefined;
      }
      const pieces = splitAlong(
        tensor,
        items.map((p) => p.count),
        axis,
      );
      pieces.forEach((piece, i) => parts[i].set(name, piece));
    }
    return parts;
  }
}
