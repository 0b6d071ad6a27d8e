export { RedisKeys } from './redis-keys';
export { KeySegmentError, seg, tag } from './segment';
export { TTL_DEFAULTS } from './ttl';
export { QUEUE, modelLoadQueue, bullPrefix } from './queues';
export * from './jobs';
export {
  typedProducer,
  createDispatcher,
  MissingJobHandlerError,
  type TypedProducer,
  type TypedJob,
  type JobHandlers,
} from './job-map';
export {
  INFER_ERROR_CODES,
  JobError,
  decodeJobFailure,
  encodeJobFailure,
  isInferErrorCode,
  type InferErrorCode,
} from './job-error';
export { parseInferAnswer, serializeInferAnswer, type InferAnswer } from './infer-answers';
export {
  WORKER_COMMAND_TYPES,
  parseJsonRecord,
  parseWorkerCommand,
  serializeWorkerCommand,
  type WorkerCommand,
} from './events';
