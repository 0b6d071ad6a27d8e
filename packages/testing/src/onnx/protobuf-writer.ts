// The few protobuf wire-format rules an ONNX file needs, written out by hand so the test
// harness has no protobuf dependency: varints (int64 as 64-bit two's complement), fixed 32-bit
// floats and length-delimited bytes, strings and sub-messages.

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const MASK_64 = (1n << 64n) - 1n;

/** Varint bytes of an integer; negatives as their 64-bit two's complement (10 bytes). */
export function encodeVarint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < -(1n << 63n) || v > MASK_64) throw new RangeError(`${value} does not fit 64 bits`);
  v &= MASK_64;
  const bytes: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return Buffer.from(bytes);
}

function tag(field: number, wireType: number): Buffer {
  return encodeVarint((field << 3) | wireType);
}

/** Fields appended in order; `finish()` gives the message bytes. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];

  /** int32, int64, enum, bool fields. */
  varint(field: number, value: number | bigint | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    this.chunks.push(tag(field, WIRE_VARINT), encodeVarint(v));
    return this;
  }

  float(field: number, value: number): this {
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value, 0);
    this.chunks.push(tag(field, WIRE_FIXED32), bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.chunks.push(tag(field, WIRE_LENGTH_DELIMITED), encodeVarint(value.byteLength), value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, message: ProtoWriter | Uint8Array): this {
    return this.bytes(field, message instanceof ProtoWriter ? message.finish() : message);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
