export {
  AliasConflictError,
  AliasNotFoundError,
  InvalidArtifactError,
  ModelNotFoundError,
  NotFoundError,
  PublishError,
  RegistryError,
  VersionExistsError,
  VersionNotFoundError,
  WorkspaceMismatchError,
  describeCause,
  type VersionUnavailableReason,
} from './errors';
export {
  DEFAULT_WORKSPACE,
  LATEST_ALIAS,
  type AliasMove,
  type AliasRecord,
  type ModelRecord,
  type ResolvedVersion,
  type VersionArtifact,
  type VersionDetails,
  type VersionMetadata,
  type VersionRecord,
  type VersionStatus,
} from './types';
export {
  inspectOnnxModel,
  normalizeShape,
  oipDatatype,
  toTensorSpecs,
  type ModelSignature,
  type OipDatatype,
  type OrtValueMetadata,
  type TensorSpec,
} from './onnx-metadata';
export {
  DEFAULT_TASK_TYPE,
  generateModelType,
  MAX_PREDICTION_CACHE_TTL,
  parseModelType,
  parsePredictionCacheTtl,
  prepareArtifact,
  validateTaskType,
  type ArtifactFile,
  type PreparedArtifact,
} from './artifact-directory';
export { ModelRegistryRepository, type VersionRef } from './model-registry.repository';
export { classifyS3Error, S3StoreError, type S3ErrorKind } from './s3-errors';
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_QUEUE_SIZE,
  LocalFileError,
  MIN_PART_SIZE,
  S3ArtifactStore,
  type ArtifactReader,
  type GetStreamOptions,
  type ObjectInfo,
  type ObjectStream,
  type S3ArtifactStoreOptions,
  type S3Settings,
  type UploadOptions,
  type UploadProgress,
} from './s3-artifact-store.adapter';
export {
  HttpOriginSource,
  OriginFetchError,
  normalizeOriginUrl,
  originFileUrl,
  type HttpOriginSourceOptions,
  type OriginErrorKind,
  type OriginStream,
} from './http-origin-source.adapter';
export {
  NO_EVENTS,
  RegistryEvents,
  type RegistryEvent,
  type RegistryEventSink,
  type RegistryEventsOptions,
  type RegistryLogger,
} from './registry-events.publisher';
export {
  ModelPublisher,
  type ArtifactWriter,
  type ModelPublisherDeps,
  type PublishOptions,
  type PublishProgress,
  type PublishResult,
} from './model-publisher.service';
export {
  ModelAdminService,
  type ArtifactRemover,
  type ModelAdminDeps,
  type StorageCleanup,
} from './model-admin.service';
export {
  CacheInvalidationError,
  PredictionCacheAdmin,
  type CacheInvalidation,
} from './prediction-cache-admin.service';
