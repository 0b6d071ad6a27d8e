import type { JobTensor } from '@strata/cache-keys';
import { checkRawSize } from './raw-tensor';
import { tensorLabel, TensorError } from './tensor-error';
import type { RawTensor } from './types';

/** A raw tensor as a job tensor with its bytes inline (base64). */
export function toJobTensor(tensor: RawTensor): JobTensor {
  return {
    name: tensor.name,
    datatype: tensor.datatype,
    shape: [...tensor.shape],
    data: tensor.data.toString('base64'),
  };
}

/** A raw tensor as a job tensor whose bytes the caller stores under `blobKey`. */
export function toBlobJobTensor(tensor: RawTensor, blobKey: string): JobTensor {
  return { name: tensor.name, datatype: tensor.datatype, shape: [...tensor.shape], blobKey };
}

/**
 * The raw tensor of a job tensor, its size checked against its shape. A tensor kept in a blob
 * needs the blob's bytes passed in (this package does no I/O).
 */
export function fromJobTensor(job: JobTensor, blob?: Buffer): RawTensor {
  const label = tensorLabel('tensor', job.name);
  let data: Buffer;
  if (job.data !== undefined) {
    data = Buffer.from(job.data, 'base64');
  } else if (job.blobKey !== undefined) {
    if (blob === undefined) {
      throw new TensorError(`${label}: its bytes are in blob ${job.blobKey}; fetch and pass them`);
    }
    data = blob;
  } else {
    throw new TensorError(`${label}: has neither data nor blobKey`);
  }
  checkRawSize(label, job.datatype, job.shape, data);
  return { name: job.name, datatype: job.datatype, shape: [...job.shape], data };
}
