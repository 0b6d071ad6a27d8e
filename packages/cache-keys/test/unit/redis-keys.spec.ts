import { SCHEMA } from '@strata/config';
import {
  bullPrefix,
  createDispatcher,
  JOB_NAMES,
  KeySegmentError,
  MissingJobHandlerError,
  modelLoadQueue,
  QUEUE,
  RedisKeys,
  TTL_DEFAULTS,
  type JobHandlers,
} from '@strata/cache-keys';

/** The part of a key Redis Cluster hashes: the first non-empty {...}, else the whole key. */
function hashPart(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

type Builder = (k: RedisKeys, a: string, b: string, n: number) => string;

// Every builder, fed the same identifiers. Adding a builder without listing it here fails the
// 'lists every builder' test below.
const BUILDERS: Record<string, Builder> = {
  auth: (k, a) => k.auth(a),
  modelMeta: (k, a) => k.modelMeta(a),
  versionMeta: (k, a, _b, n) => k.versionMeta(a, n),
  metaEpoch: (k, a) => k.metaEpoch(a),
  alias: (k, a, b) => k.alias(a, b),
  generation: (k, a, _b, n) => k.generation(a, n),
  prediction: (k, a) => k.prediction(a),
  predictionLock: (k, a) => k.predictionLock(a),
  inferAnswers: (k, a) => k.inferAnswers(a),
  workflow: (k, a, b) => k.workflow(a, b),
  rateLimit: (k, a, _b, n) => k.rateLimit(a, n),
  artifactLock: (k, a, b, n) => k.artifactLock(a, b, n),
  modelLoadLock: (k, a, b, n) => k.modelLoadLock(a, b, n),
  leases: (k, a, b, n) => k.leases(a, b, n),
  diskLru: (k, a) => k.diskLru(a),
  diskReady: (k, a) => k.diskReady(a),
  recentInferences: (k, a, b) => k.recentInferences(a, b),
  recentErrors: (k, a, b) => k.recentErrors(a, b),
  recentWorkers: (k, a) => k.recentWorkers(a),
  placement: (k, a, _b, n) => k.placement(a, n),
  placementIndex: (k) => k.placementIndex(),
  blob: (k, a) => k.blob(a),
  eventsChannel: (k) => k.eventsChannel(),
  predictionsChannel: (k) => k.predictionsChannel(),
};

const IDS = ['a', 'b', 'model-1', 'm.v', 'x_y', 'ok', 'err', 'workers', 'lock', 'pred', '1', '2'];

describe('RedisKeys', () => {
  const keys = new RedisKeys('strata-test');

  it('lists every builder', () => {
    const methods = Object.getOwnPropertyNames(RedisKeys.prototype).filter(
      // `is…` methods recognise keys rather than build them (tested on their own below).
      (m) => m !== 'constructor' && m !== 'k' && !m.startsWith('is'),
    );
    expect(methods.sort()).toEqual(Object.keys(BUILDERS).sort());
  });

  it('applies the prefix to every key and channel', () => {
    for (const [name, build] of Object.entries(BUILDERS)) {
      expect([name, build(keys, 'a', 'b', 1).startsWith('strata-test:')]).toEqual([name, true]);
    }
    expect(bullPrefix('strata-test')).toBe('strata-test');
  });

  it('never lets two builders, or two inputs of one builder, produce the same key', () => {
    const seen = new Map<string, string>();
    for (const [name, build] of Object.entries(BUILDERS)) {
      for (const a of IDS)
        for (const b of IDS)
          for (const n of [1, 2, 12]) {
            const key = build(keys, a, b, n);
            const who = `${name}(${a},${b},${n})`;
            const prev = seen.get(key);
            // the same builder may ignore an argument; different builders or inputs must not meet
            if (prev && prev.split('(')[0] !== name)
              throw new Error(`${who} collides with ${prev}: ${key}`);
            if (prev && prev !== who) {
              const [pa, pb, pn] = prev.slice(prev.indexOf('(') + 1, -1).split(',');
              const used = build(keys, pa, pb, Number(pn)) === build(keys, a, b, n);
              expect(used).toBe(true);
            }
            seen.set(key, who);
          }
    }
    expect(seen.size).toBeGreaterThan(1000);
  });

  it('refuses identifiers that could break the key structure', () => {
    for (const bad of ['', 'a:b', '{x}', 'a b', 'a\nb', '../x', 'ä', 'x'.repeat(201)]) {
      expect(() => keys.auth(bad)).toThrow(KeySegmentError);
      expect(() => keys.alias('m', bad)).toThrow(KeySegmentError);
    }
    expect(() => new RedisKeys('a:b')).toThrow(KeySegmentError);
  });

  it('gives keys that are used together one hash tag', () => {
    const d = 'ab12';
    expect(hashPart(keys.prediction(d))).toBe(hashPart(keys.predictionLock(d)));
    expect(hashPart(keys.metaEpoch('m'))).toBe(hashPart(keys.modelMeta('m')));
    expect(hashPart(keys.metaEpoch('m'))).toBe(hashPart(keys.versionMeta('m', 1)));
    expect(hashPart(keys.metaEpoch('m'))).toBe(hashPart(keys.alias('m', 'latest')));
    expect(hashPart(keys.rateLimit('k', 1))).toBe(hashPart(keys.rateLimit('k', 2)));
    expect(hashPart(keys.recentInferences('m', 'w1'))).toBe(hashPart(keys.recentErrors('m', 'w2')));
    expect(hashPart(keys.recentInferences('m', 'w1'))).toBe(hashPart(keys.recentWorkers('m')));
    expect(hashPart(keys.leases('local', 'm', 1))).toBe(hashPart(keys.diskLru('local')));
    expect(hashPart(keys.artifactLock('local', 'm', 1))).toBe(hashPart(keys.diskLru('local')));
    expect(hashPart(keys.diskReady('local'))).toBe(hashPart(keys.diskLru('local')));
    // different identities spread over slots
    expect(hashPart(keys.prediction('a'))).not.toBe(hashPart(keys.prediction('b')));
  });
});

describe('queues', () => {
  it('hash-tags every queue name so BullMQ keys share one cluster slot', () => {
    for (const name of [...Object.values(QUEUE), modelLoadQueue('local')]) {
      expect(name).toMatch(/^\{[a-z0-9-]+\}$/);
      expect(name).not.toContain(':');
    }
    expect(modelLoadQueue('zone-a')).not.toBe(modelLoadQueue('zone-b'));
    expect(() => modelLoadQueue('a:b')).toThrow(KeySegmentError);
  });
});

describe('TTL defaults', () => {
  it('match the defaults of the variables that override them', () => {
    expect(String(TTL_DEFAULTS.auth)).toBe(SCHEMA.AUTH_CACHE_TTL.default);
    expect(String(TTL_DEFAULTS.meta)).toBe(SCHEMA.MODEL_METADATA_CACHE_TTL.default);
    expect(String(TTL_DEFAULTS.pred)).toBe(SCHEMA.PREDICTION_CACHE_TTL.default);
    expect(String(TTL_DEFAULTS.wf)).toBe(SCHEMA.WORKFLOWS_DEFINITION_CACHE_EXPIRY.default);
    expect(TTL_DEFAULTS.inference).toBe(2 * Number(SCHEMA.METRICS_INTERVAL.default));
  });
});

describe('createDispatcher', () => {
  it('refuses to build a processor when a job has no handler', () => {
    const partial = {
      ensure: async () => ({ path: '/x', cached: true }),
    } as unknown as JobHandlers<'model-load'>;
    expect(() => createDispatcher('model-load', partial)).toThrow(MissingJobHandlerError);
    expect(() => createDispatcher('model-load', partial)).toThrow(/evict, clear/);
  });

  it('routes by job name and fails unknown names without retry', async () => {
    const seen: string[] = [];
    const run = createDispatcher('model-load', {
      ensure: async (job) => {
        seen.push(`ensure ${job.data.model}/${job.data.version}`);
        return { path: '/p', cached: false };
      },
      evict: async () => ({ evicted: true }),
      clear: async () => ({ removed: 0 }),
    });
    await expect(
      run({ name: 'ensure', data: { model: 'm', version: 3 } } as never),
    ).resolves.toEqual({ path: '/p', cached: false });
    expect(seen).toEqual(['ensure m/3']);
    await expect(run({ name: 'explode', data: {} } as never)).rejects.toMatchObject({
      name: 'UnrecoverableError',
    });
    await expect(run({ name: 'constructor', data: {} } as never)).rejects.toMatchObject({
      name: 'UnrecoverableError',
    });
    expect(JOB_NAMES['model-load']).toEqual(['ensure', 'evict', 'clear']);
  });
});

describe('RedisKeys.isInferAnswers', () => {
  const keys = new RedisKeys('strata');
  it('knows the answer channels of its own prefix and nothing else', () => {
    expect(keys.isInferAnswers(keys.inferAnswers('gw-1'))).toBe(true);
    expect(keys.isInferAnswers(new RedisKeys('other').inferAnswers('gw-1'))).toBe(false);
    expect(keys.isInferAnswers(keys.eventsChannel())).toBe(false);
    expect(keys.isInferAnswers('strata:answers:{}')).toBe(false);
    expect(keys.isInferAnswers('strata:answers:x')).toBe(false);
  });
});
