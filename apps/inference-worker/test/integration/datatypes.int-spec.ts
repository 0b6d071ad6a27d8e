import type { JobTensor, TensorDatatype } from '@strata/cache-keys';
import { encodeBytesElements, numberToFp16 } from '@strata/tensors';
import { buildIdentityModel } from '@strata/testing';
import { DirectoryModelSource } from '../support/directory-model-source';
import { outputBytes } from '../support/direct-ort';
import { startWorker, type WorkerHarness } from '../support/worker-harness';

const SIZES: Record<Exclude<TensorDatatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

/** Valid raw bytes of `rows` × 3 elements of the datatype, different per seed. */
function sample(datatype: TensorDatatype, rows: number, seed: number): Buffer {
  const n = rows * 3;
  if (datatype === 'BYTES') {
    return encodeBytesElements(
      Array.from({ length: n }, (_, i) => (i % 3 === 2 ? '' : `s${seed}-é${i}`)),
    );
  }
  const out = Buffer.alloc(n * SIZES[datatype]);
  for (let i = 0; i < n; i++) {
    const v = seed * 31 + i * 7;
    switch (datatype) {
      case 'BOOL':
        out.writeUInt8(v % 2, i);
        break;
      case 'UINT8':
        out.writeUInt8(v % 256, i);
        break;
      case 'INT8':
        out.writeInt8((v % 256) - 128, i);
        break;
      case 'UINT16':
        out.writeUInt16LE((v * 97) % 65536, i * 2);
        break;
      case 'INT16':
        out.writeInt16LE(((v * 97) % 65536) - 32768, i * 2);
        break;
      case 'FP16':
        out.writeUInt16LE(numberToFp16((v - 50) / 8), i * 2);
        break;
      case 'UINT32':
        out.writeUInt32LE((v * 2654435761) % 2 ** 32, i * 4);
        break;
      case 'INT32':
        out.writeInt32LE(-v * 1000003, i * 4);
        break;
      case 'FP32':
        out.writeFloatLE(v / 3, i * 4);
        break;
      case 'UINT64':
        out.writeBigUInt64LE(2n ** 63n + BigInt(v), i * 8);
        break;
      case 'INT64':
        out.writeBigInt64LE(-(2n ** 40n) * BigInt(v), i * 8);
        break;
      case 'FP64':
        out.writeDoubleLE(Math.PI * v, i * 8);
        break;
    }
  }
  return out;
}

const DATATYPES: TensorDatatype[] = [...(Object.keys(SIZES) as TensorDatatype[]), 'BYTES'];

// Identity models of every OIP datatype: what goes in must come back byte for byte, through
// the conversions to ort.Tensor (BigInt64Array for INT64, Uint8Array for BOOL, Uint16Array for
// FP16, strings for BYTES) and back, batched or not.
describe('every OIP datatype through ONNX Runtime', () => {
  let source: DirectoryModelSource;
  let worker: WorkerHarness;

  beforeAll(async () => {
    source = await DirectoryModelSource.create();
    for (const datatype of DATATYPES) {
      await source.installBytes(
        `id-${datatype.toLowerCase()}`,
        1,
        buildIdentityModel({ datatype, shape: ['batch', 3] }),
      );
    }
    worker = await startWorker({ source, env: { BATCH_MAX_SIZE: '8', BATCH_MAX_DELAY_MS: '25' } });
  });

  afterAll(async () => {
    await worker?.close();
    await source?.remove();
  });

  it.each(DATATYPES)('%s comes back byte-identical, alone and batched', async (datatype) => {
    const model = `id-${datatype.toLowerCase()}`;
    const requests: JobTensor[] = [1, 2, 1, 1, 3, 1].map((rows, i) => ({
      name: 'input',
      datatype,
      shape: [rows, 3],
      data: sample(datatype, rows, i + 1).toString('base64'),
    }));
    const results = await Promise.all(
      requests.map((t) => worker.run({ model, version: 1, inputs: [t] })),
    );
    results.forEach((r, i) => {
      expect(r.outputs[0]).toMatchObject({ name: 'output', datatype, shape: requests[i].shape });
      expect(outputBytes(r, 'output').equals(Buffer.from(requests[i].data!, 'base64'))).toBe(true);
    });
    expect(results.some((r, i) => r.batchSize > requests[i].shape[0])).toBe(true);
  });

  it('refuses a datatype the model does not take', async () => {
    const job = await worker.producer.add('run', {
      model: 'id-fp32',
      version: 1,
      deadline: Date.now() + 30_000,
      inputs: [
        {
          name: 'input',
          datatype: 'FP64',
          shape: [1, 3],
          data: sample('FP64', 1, 1).toString('base64'),
        },
      ],
    });
    await expect(job.waitUntilFinished(worker.events, 30_000)).rejects.toThrow(
      /\[strata-infer:INVALID_INPUT\] input "input": datatype FP32 expected, got FP64/,
    );
  });
});
