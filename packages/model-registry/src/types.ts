import type { TensorSpec } from './onnx-metadata';

/** Workspace of a model published without one. */
export const DEFAULT_WORKSPACE = 'default';

/** The alias every publish moves to the newest ready version; never set by hand. */
export const LATEST_ALIAS = 'latest';

export type VersionStatus = 'uploading' | 'ready' | 'failed';

/** What `model_versions.metadata` holds: the task type and the v2 metadata of the signature. */
export interface VersionMetadata {
  taskType: string;
  /** Seconds a prediction of this version stays cached (0 = never); absent: the default. */
  predictionCacheTtl?: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface VersionRecord {
  model: string;
  version: number;
  status: VersionStatus;
  /** `$S3_PREFIX/models/{model}/{version}/`. */
  storagePrefix: string;
  /** `manifestDigest()` of the version's manifest (64 hex). */
  manifestDigest: string;
  /** Sum of the file sizes the manifest lists. */
  sizeBytes: number;
  originUrl: string | null;
  metadata: VersionMetadata;
  createdAt: Date;
  deletedAt: Date | null;
  /** Aliases pointing at this version, sorted. */
  aliases: string[];
}

export interface AliasRecord {
  alias: string;
  version: number;
  updatedAt: Date;
}

export interface ModelRecord {
  name: string;
  workspace: string;
  taskType: string;
  createdAt: Date;
  /** Ascending by number; deleted versions only when asked for. */
  versions: VersionRecord[];
  /** Sorted by alias name. */
  aliases: AliasRecord[];
}

/** A version found by {@link ModelRegistryRepository.resolve}: always ready and not deleted. */
export interface ResolvedVersion extends VersionRecord {
  workspace: string;
  /** How it was asked for: by number, or through which alias. */
  via: { kind: 'version' } | { kind: 'alias'; alias: string };
}

/**
 * Where the files of a ready, undeleted version are and what they must prove: what the
 * model-loader needs to download it ({@link ModelRegistryRepository.resolveArtifact}).
 */
export type VersionArtifact = Pick<
  VersionRecord,
  'model' | 'version' | 'storagePrefix' | 'manifestDigest' | 'sizeBytes' | 'originUrl'
>;

/** Set when a version is created (the number is allocated first, then these are computed). */
export interface VersionDetails {
  storagePrefix: string;
  manifestDigest: string;
  sizeBytes: number;
  metadata: VersionMetadata;
  originUrl?: string | null;
}

export interface AliasMove {
  alias: string;
  version: number;
  /** Where it pointed before; null if it did not exist. */
  previous: number | null;
}
