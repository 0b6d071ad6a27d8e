import { createHash, type Hash } from 'node:crypto';
import type { RawTensor } from '@strata/tensors';

/** Everything that determines a prediction; two requests with equal inputs here get one entry. */
export interface PredictionIdentity {
  model: string;
  version: number;
  /** The version's cache generation (`RedisKeys.generation`): bumping it retires every entry. */
  generation: string;
  inputs: readonly RawTensor[];
  /** Outputs asked for, in the order asked (the answer lists them in that order); all if absent. */
  outputs?: readonly string[];
  /** Request parameters that change the result (none of the v2 transport ones). */
  parameters?: Readonly<Record<string, unknown>>;
  /** Distinguishes one row of an embedding batch from a whole request with the same bytes. */
  scope?: 'request' | 'item';
}

// Every variable-length field is length-prefixed, so no two different identities hash the same
// byte stream (a name ending where a datatype begins, say).
function field(hash: Hash, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const len = Buffer.allocUnsafe(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  hash.update(len);
  hash.update(bytes);
}

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` digest alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * sha256 (hex) over model, resolved version, generation, the inputs sorted by name (name,
 * datatype, shape, raw bytes), the requested outputs and the parameters. Input order does not
 * matter (the model binds inputs by name); output order does (the answer follows it).
 */
export function predictionDigest(identity: PredictionIdentity): string {
  const hash = createHash('sha256');
  field(hash, 'strata-prediction-v1');
  field(hash, identity.scope ?? 'request');
  field(hash, identity.model);
  field(hash, String(identity.version));
  field(hash, identity.generation);
  const inputs = [...identity.inputs].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  field(hash, String(inputs.length));
  for (const t of inputs) {
    field(hash, t.name);
    field(hash, t.datatype);
    field(hash, t.shape.join(','));
    field(hash, t.data);
  }
  field(hash, identity.outputs === undefined ? '*' : canonicalJson(identity.outputs));
  field(hash, canonicalJson(identity.parameters ?? {}));
  return hash.digest('hex');
}
