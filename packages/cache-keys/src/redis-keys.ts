import { seg, tag } from './segment';

/**
 * Every Redis key and pub/sub channel Strata uses, built from one prefix:
 * `{prefix}:{category}:{identifier...}`. Keys that one command or script touches together carry
 * the same hash tag (the part in braces), so the same code runs on Redis Cluster.
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = seg('key prefix', prefix);
  }

  private k(category: string, ...parts: string[]): string {
    return [this.prefix, category, ...parts].join(':');
  }

  /** Cached validation of one API key, by the sha256 of the secret. */
  auth(keyHash: string): string {
    return this.k('auth', tag('key hash', keyHash));
  }

  /** Cached model metadata (task type, inputs, outputs, versions). */
  modelMeta(model: string): string {
    return this.k('meta', 'model', tag('model', model));
  }

  /** Cached metadata of one version of a model. */
  versionMeta(model: string, version: number): string {
    return this.k('meta', 'version', tag('model', model), seg('version', version));
  }

  /**
   * Epoch of a model's cached metadata (a counter, no TTL): every registry change of the model
   * increments it, and a `meta`/`alias` entry counts only if it was written under the current
   * epoch. Shares the model's hash tag with those entries (read with them in one MGET).
   */
  metaEpoch(model: string): string {
    return this.k('meta', 'epoch', tag('model', model));
  }

  /** Which version an alias (`latest`, `prod`) points at. */
  alias(model: string, alias: string): string {
    return this.k('alias', tag('model', model), seg('alias', alias));
  }

  /** Cache generation of a version: bumping it makes all its predictions unreachable. */
  generation(model: string, version: number): string {
    return this.k('gen', tag('model', model), seg('version', version));
  }

  /** A cached prediction, by the sha256 digest of everything that determines it. */
  prediction(digest: string): string {
    return this.k('pred', tag('digest', digest));
  }

  /** Coalescing lock for one prediction; shares the prediction's hash tag. */
  predictionLock(digest: string): string {
    return this.k('lock', 'pred', tag('digest', digest));
  }

  /** A workflow definition. */
  workflow(workspace: string, workflow: string): string {
    return this.k('wf', tag('workspace', workspace), seg('workflow', workflow));
  }

  /** A rate-limit bucket of one key and one time window; all windows of a key share a slot. */
  rateLimit(keyHash: string, window: number): string {
    return this.k('rl', tag('key hash', keyHash), seg('window', window));
  }

  /** Cross-process lock guarding the download of one version into one cache domain. */
  artifactLock(domain: string, model: string, version: number): string {
    return this.k(
      'lock',
      'artifact',
      tag('domain', domain),
      seg('model', model),
      seg('version', version),
    );
  }

  /** Cross-process lock guarding the load of one version into one worker. */
  modelLoadLock(worker: string, model: string, version: number): string {
    return this.k(
      'lock',
      'load',
      tag('worker', worker),
      seg('model', model),
      seg('version', version),
    );
  }

  /** Workers holding a version in a cache domain: sorted set of worker id → lease expiry (ms). */
  leases(domain: string, model: string, version: number): string {
    return this.k('lease', tag('domain', domain), seg('model', model), seg('version', version));
  }

  /** Least-recently-used order of the versions on one domain's disk: `model/version` → last use. */
  diskLru(domain: string): string {
    return this.k('disk', 'lru', tag('domain', domain));
  }

  /**
   * Verified versions on one domain's disk, as the model-loader last saw them: hash of
   * `model/version` → local path. Lets a worker holding a lease skip the queue for a warm ensure.
   */
  diskReady(domain: string): string {
    return this.k('disk', 'ready', tag('domain', domain));
  }

  /** Recent inferences of a model on one worker (score = finish time); one slot per model. */
  recentInferences(model: string, worker: string): string {
    return this.k('inference', tag('model', model), 'ok', seg('worker', worker));
  }

  /** Recent errors of a model on one worker (score = finish time). */
  recentErrors(model: string, worker: string): string {
    return this.k('inference', tag('model', model), 'err', seg('worker', worker));
  }

  /** Workers that wrote recent-inference records for a model (so readers need no SCAN). */
  recentWorkers(model: string): string {
    return this.k('inference', tag('model', model), 'workers');
  }

  /** Which workers have a version loaded. */
  placement(model: string, version: number): string {
    return this.k('placement', tag('model', model), seg('version', version));
  }

  /**
   * Versions with placement entries, so readers list loaded models without SCAN: sorted set of
   * `model/version` → when its newest entry expires (Unix ms). A reader still checks each
   * version's `placement` key; stale members only cost a lookup.
   */
  placementIndex(): string {
    return this.k('placement', 'index');
  }

  /** A large input tensor parked for one job. */
  blob(id: string): string {
    return this.k('blob', tag('blob', id));
  }

  /**
   * Pub/sub channel on which a gateway that computed a coalesced prediction tells the others
   * waiting on its lock (in any gateway) that the entry is stored, or that it failed.
   */
  predictionsChannel(): string {
    return this.k('pred-done');
  }

  /**
   * Pub/sub channel of one gateway process (its reply address, `replyTo` in `infer` jobs): the
   * inference-worker that finished one of its jobs tells it here, so a gateway wakes once per job
   * and hears only about its own. The hash tag puts a sharded channel on one slot.
   */
  inferAnswers(gateway: string): string {
    return this.k('answers', tag('gateway', gateway));
  }

  /** Whether `channel` is a gateway's answer channel of this prefix (workers publish only there). */
  isInferAnswers(channel: string): boolean {
    const start = `${this.k('answers')}:{`;
    return channel.length > start.length + 1 && channel.startsWith(start) && channel.endsWith('}');
  }

  /** Pub/sub channel for invalidation events (model, alias, key revocation). */
  eventsChannel(): string {
    return this.k('events');
  }
}
