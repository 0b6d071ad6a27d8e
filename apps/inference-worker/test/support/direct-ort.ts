import * as ort from 'onnxruntime-node';
import type { JobTensor } from '@strata/cache-keys';

/**
 * onnxruntime-node used directly, as a reference for what the worker must return byte for byte.
 * Built by hand here on purpose (not through the worker's adapter), with the same single thread.
 */
export class DirectOrt {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async open(file: string): Promise<DirectOrt> {
    return new DirectOrt(
      await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
    );
  }

  /** Runs on job-style tensors (FP32 and INT64 only) and returns each output's raw bytes and shape. */
  async run(inputs: JobTensor[]): Promise<Record<string, { shape: number[]; bytes: Buffer }>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      const raw = Buffer.from(t.data as string, 'base64');
      const copy = new Uint8Array(raw).buffer;
      feeds[t.name] =
        t.datatype === 'INT64'
          ? new ort.Tensor('int64', new BigInt64Array(copy), t.shape)
          : new ort.Tensor('float32', new Float32Array(copy), t.shape);
    }
    const out = await this.session.run(feeds);
    return Object.fromEntries(
      Object.entries(out).map(([name, tensor]) => {
        const data = tensor.data as Float32Array;
        return [
          name,
          {
            shape: [...tensor.dims],
            bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          },
        ];
      }),
    );
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export function f32Tensor(name: string, shape: number[], bytes: Buffer): JobTensor {
  return { name, datatype: 'FP32', shape, data: bytes.toString('base64') };
}

export function outputBytes(result: { outputs: JobTensor[] }, name: string): Buffer {
  const t = result.outputs.find((o) => o.name === name);
  if (!t?.data)
    throw new Error(`no output ${name} in ${JSON.stringify(result.outputs.map((o) => o.name))}`);
  return Buffer.from(t.data, 'base64');
}
