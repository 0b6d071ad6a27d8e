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
