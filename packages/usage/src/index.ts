export {
  checkUsageEvent,
  USAGE_CATEGORIES,
  type UsageCategory,
  type UsageEvent,
  type UsageEventCheck,
} from './usage-event';
export {
  UsageEmitter,
  USAGE_JOB_OPTIONS,
  USAGE_JOB_MAX_EVENTS,
  type UsageEmitterOptions,
  type UsageEmitterLogger,
  type UsageJob,
  type UsageQueuePort,
} from './emitter/usage-emitter';
export { UsageEmitterMetrics, type UsageDropReason } from './emitter/usage-emitter.metrics';
export { UsageEmitterModule, createUsageEmitter } from './emitter/usage-emitter.module';
export {
  UsageQueryService,
  UsageQueryError,
  USAGE_GROUP_BY,
  type UsageGroupBy,
  type UsageQuery,
  type UsageQueryable,
  type UsageRow,
} from './query/usage-query.service';
export {
  RecentInferenceReader,
  RECENT_MAX,
  type RecentInferences,
  type RecentInferenceRecord,
  type RecentErrorRecord,
} from './query/recent-inference.reader';
export { UsageQueryModule } from './query/usage-query.module';
