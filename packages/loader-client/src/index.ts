export {
  LOADER_ERROR_CODES,
  ModelLoaderError,
  decodeLoaderFailure,
  encodeLoaderFailure,
  isLoaderErrorCode,
  type LoaderErrorCode,
} from './loader-error';
export {
  ModelLoaderClient,
  type CallOptions,
  type EnsureAnswer,
  type EnsureOptions,
  type ModelLoaderClientOptions,
} from './model-loader.client';
export { ModelLeases } from './model-leases.repository';
export { ReadyVersions, diskMember } from './ready-versions.repository';
