import { isDatatype, type RawTensor } from '@strata/tensors';

/**
 * A cached prediction as stored in Redis: `SPE1`, a uint32 LE header length, a JSON header
 * (per output name, datatype, shape, byte length; the compute time it saved), then the raw
 * little-endian output bytes one after another. Binary, so an embedding of 768 float32 costs
 * 3 KiB, not the ~12 KiB of JSON numbers.
 */
const MAGIC = Buffer.from('SPE1', 'ascii');
const PREFIX_BYTES = MAGIC.length + 4;

interface EntryHeader {
  o: { n: string; d: string; s: number[]; l: number }[];
  /** Compute time (ms) of the run that produced it. */
  c: number;
}

export interface PredictionEntry {
  outputs: RawTensor[];
  computeMs: number;
}

/** Thrown for bytes that are not an entry (truncated, another format): the caller misses. */
export class CorruptEntryError extends Error {
  constructor(reason: string) {
    super(`corrupt prediction cache entry: ${reason}`);
    this.name = 'CorruptEntryError';
  }
}

export function encodePredictionEntry(entry: PredictionEntry): Buffer {
  const header: EntryHeader = {
    o: entry.outputs.map((t) => ({ n: t.name, d: t.datatype, s: t.shape, l: t.data.length })),
    c: Math.round(entry.computeMs * 1000) / 1000,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(json.length, MAGIC.length);
  return Buffer.concat([prefix, json, ...entry.outputs.map((t) => t.data)]);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

/** The entry, or CorruptEntryError. Output data are copies (the Redis buffer may be reused). */
export function decodePredictionEntry(bytes: Buffer): PredictionEntry {
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CorruptEntryError('unknown format');
  }
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const bodyStart = PREFIX_BYTES + headerLength;
  if (bodyStart > bytes.length) throw new CorruptEntryError('truncated header');
  let header: EntryHeader;
  try {
    header = JSON.parse(bytes.subarray(PREFIX_BYTES, bodyStart).toString('utf8')) as EntryHeader;
  } catch {
    throw new CorruptEntryError('unreadable header');
  }
  if (!header || !Array.isArray(header.o) || typeof header.c !== 'number') {
    throw new CorruptEntryError('malformed header');
  }
  let offset = bodyStart;
  const outputs: RawTensor[] = header.o.map((o) => {
    if (typeof o.n !== 'string' || !isDatatype(o.d) || !isShape(o.s)) {
      throw new CorruptEntryError('malformed output');
    }
    if (!Number.isSafeInteger(o.l) || o.l < 0 || offset + o.l > bytes.length) {
      throw new CorruptEntryError('truncated data');
    }
    const data = Buffer.from(bytes.subarray(offset, offset + o.l));
    offset += o.l;
    return { name: o.n, datatype: o.d, shape: o.s, data };
  });
  if (offset !== bytes.length) throw new CorruptEntryError('trailing bytes');
  return { outputs, computeMs: header.c };
}
