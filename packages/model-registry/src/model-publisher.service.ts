import {
  ARTIFACT_FILES,
  manifestDigest,
  s3Keys,
  s3VersionPrefix,
  serializeManifest,
  validateAlias,
  validateModelName,
  validateVersion,
  validateWorkspace,
  type Manifest,
} from '@strata/artifact-layout';
import { prepareArtifact, type PreparedArtifact } from './artifact-directory';
import {
  AliasConflictError,
  describeCause,
  PublishError,
  RegistryError,
  VersionExistsError,
} from './errors';
import { normalizeOriginUrl } from './http-origin-source.adapter';
import type { ModelRegistryRepository } from './model-registry.repository';
import type { ModelSignature } from './onnx-metadata';
import {
  NO_EVENTS,
  type RegistryEventSink,
  type RegistryLogger,
} from './registry-events.publisher';
import type { ObjectInfo, UploadOptions } from './s3-artifact-store.adapter';
import { LATEST_ALIAS, type AliasMove, type VersionMetadata } from './types';

/** What the publisher needs from S3; {@link S3ArtifactStore} provides it. */
export interface ArtifactWriter {
  readonly bucket: string;
  checkBucket(): Promise<void>;
  uploadFile(
    key: string,
    filePath: string,
    options?: UploadOptions & { expectedSize?: number },
  ): Promise<void>;
  uploadBuffer(key: string, data: Buffer, options?: UploadOptions): Promise<void>;
  head(key: string): Promise<ObjectInfo | null>;
  deletePrefix(prefix: string): Promise<number>;
}

export interface PublishOptions {
  model: string;
  /** Explicit version number; default: the next one. An existing number is refused. */
  version?: number | string;
  /** An alias (not `latest`) to point at the new version. */
  alias?: string;
  /** Workspace of a new model (default `default`); must match an existing model's. */
  workspace?: string;
  /** HTTP fallback the model-loader may download the files from. */
  originUrl?: string;
  /** Task type when the directory has no `model_type.json` naming one (default `unknown`). */
  taskType?: string;
  onProgress?: (event: PublishProgress) => void;
}

export type PublishProgress =
  | {
      type: 'prepared';
      model: string;
      files: { path: string; size: number }[];
      totalBytes: number;
      generatedModelType: boolean;
      ignored: string[];
    }
  | { type: 'version-created'; model: string; version: number }
  | {
      type: 'file-progress';
      file: string;
      loaded: number;
      size: number;
      uploadedBytes: number;
      totalBytes: number;
    }
  | { type: 'file-uploaded'; file: string; size: number; index: number; count: number }
  | { type: 'published'; model: string; version: number };

export interface PublishResult {
  model: string;
  version: number;
  workspace: string;
  taskType: string;
  storagePrefix: string;
  manifest: Manifest;
  manifestDigest: string;
  sizeBytes: number;
  signature: ModelSignature;
  generatedModelType: boolean;
  /** `latest` (if it moved) and the requested alias. */
  aliasMoves: AliasMove[];
  /** False when the invalidation events could not be sent (logged; caches catch up by TTL). */
  eventsPublished: boolean;
}

export interface ModelPublisherDeps {
  repository: ModelRegistryRepository;
  store: ArtifactWriter;
  /** `S3_PREFIX` (may be empty). */
  s3Prefix: string;
  events?: RegistryEventSink;
  log?: RegistryLogger;
}

/**
 * Publishes a model directory: everything that can be checked is checked before anything is
 * written; then the version row (`uploading`), every file under the version prefix, the manifest
 * last, a HeadObject size check per file, `ready`, `latest` and the alias, and the invalidation
 * events. A failure after the row exists removes what was uploaded and marks the version
 * `failed`, so nothing half-published is ever visible as ready.
 */
export class ModelPublisher {
  private readonly events: RegistryEventSink;
  private readonly log: RegistryLogger;

  constructor(private readonly deps: ModelPublisherDeps) {
    this.events = deps.events ?? NO_EVENTS;
    this.log = deps.log ?? (() => undefined);
  }

  async publish(dir: string, options: PublishOptions): Promise<PublishResult> {
    const model = validateModelName(options.model);
    const requested = options.version === undefined ? undefined : validateVersion(options.version);
    if (options.alias !== undefined) {
      validateAlias(options.alias);
      if (options.alias === LATEST_ALIAS)
        throw new AliasConflictError(
          `Alias "${LATEST_ALIAS}" cannot be set: every publish moves it to the newest ready version`,
        );
    }
    if (options.workspace !== undefined) validateWorkspace(options.workspace);
    const originUrl =
      options.originUrl === undefined ? null : normalizeOriginUrl(options.originUrl);
    const emit = options.onProgress ?? (() => undefined);

    const artifact = await prepareArtifact(dir, {
      model,
      taskType: options.taskType,
      // A new version without a task type of its own keeps the model's.
      fallbackTaskType: async () => (await this.deps.repository.getModel(model))?.taskType,
    });
    emit({
      type: 'prepared',
      model,
      files: artifact.files.map((f) => ({ path: f.path, size: f.size })),
      totalBytes: artifact.totalBytes,
      generatedModelType: artifact.generatedModelType,
      ignored: artifact.ignored,
    });

    // Cheap early answers before S3 is contacted; createVersion re-checks under the row lock.
    if (requested !== undefined) {
      const existing = await this.deps.repository.getVersion(model, requested);
      if (existing)
        throw new VersionExistsError(
          model,
          requested,
          existing.deletedAt ? 'deleted' : existing.status,
        );
    }
    // Unreachable S3, a missing bucket or bad credentials fail here, before any row exists.
    await this.deps.store.checkBucket();

    const metadata: VersionMetadata = {
      taskType: artifact.taskType,
      ...(artifact.predictionCacheTtl !== undefined && {
        predictionCacheTtl: artifact.predictionCacheTtl,
      }),
      inputs: artifact.signature.inputs,
      outputs: artifact.signature.outputs,
    };
    const createdAt = new Date();
    const manifestFor = (version: number): Manifest => ({
      formatVersion: 1,
      model,
      version,
      files: artifact.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
      createdAt: createdAt.toISOString(),
    });
    const created = await this.deps.repository.createVersion({
      model,
      workspace: options.workspace,
      taskType: artifact.taskType,
      version: requested,
      prepare: (version) => ({
        storagePrefix: s3VersionPrefix(this.deps.s3Prefix, model, version),
        manifestDigest: manifestDigest(manifestFor(version)),
        sizeBytes: artifact.totalBytes,
        metadata,
        originUrl,
      }),
    });
    const version = created.version;
    const manifest = manifestFor(version);
    emit({ type: 'version-created', model, version });

    await this.upload(model, version, artifact, manifest, emit);

    let ready;
    try {
      ready = await this.deps.repository.markReady(model, version, { alias: options.alias });
    } catch (error) {
      const cleanup = await this.rollback(model, version, created.storagePrefix);
      throw new PublishError(
        `Publishing ${model}/${version} failed while registering it as ready: ${describeCause(error)}${cleanup}`,
        model,
        version,
        undefined,
        error,
      );
    }

    let eventsPublished = await this.events.publish({ type: 'model-published', model, version });
    for (const move of ready.moves)
      eventsPublished =
        (await this.events.publish({ type: 'alias-moved', model, ...move })) && eventsPublished;
    emit({ type: 'published', model, version });

    const registered = await this.deps.repository.getModel(model);
    return {
      model,
      version,
      workspace: registered?.workspace ?? options.workspace ?? '',
      taskType: artifact.taskType,
      storagePrefix: created.storagePrefix,
      manifest,
      manifestDigest: created.manifestDigest,
      sizeBytes: artifact.totalBytes,
      signature: artifact.signature,
      generatedModelType: artifact.generatedModelType,
      aliasMoves: ready.moves,
      eventsPublished,
    };
  }

  private async upload(
    model: string,
    version: number,
    artifact: PreparedArtifact,
    manifest: Manifest,
    emit: (event: PublishProgress) => void,
  ): Promise<void> {
    const keys = s3Keys(this.deps.s3Prefix, model, version);
    const { store } = this.deps;
    const count = artifact.files.length + 1;
    let uploadedBytes = 0;
    let current: string = ARTIFACT_FILES.weights;
    try {
      for (const [index, file] of artifact.files.entries()) {
        current = file.path;
        const key = keys.file(file.path);
        const before = uploadedBytes;
        const onProgress: UploadOptions['onProgress'] = (p) =>
          emit({
            type: 'file-progress',
            file: file.path,
            loaded: p.loaded,
            size: file.size,
            uploadedBytes: before + p.loaded,
            totalBytes: artifact.totalBytes,
          });
        if (file.source.kind === 'file')
          await store.uploadFile(key, file.source.path, {
            onProgress,
            expectedSize: file.size,
            contentType: contentTypeOf(file.path),
          });
        else
          await store.uploadBuffer(key, file.source.data, {
            onProgress,
            contentType: contentTypeOf(file.path),
          });
        await this.checkUploaded(key, file.size);
        uploadedBytes += file.size;
        emit({ type: 'file-uploaded', file: file.path, size: file.size, index, count });
      }
      // Last: a loader treats a version without manifest.json as incomplete.
      current = ARTIFACT_FILES.manifest;
      const body = Buffer.from(serializeManifest(manifest), 'utf8');
      await store.uploadBuffer(keys.manifest, body, { contentType: 'application/json' });
      await this.checkUploaded(keys.manifest, body.length);
      emit({ type: 'file-uploaded', file: current, size: body.length, index: count - 1, count });
    } catch (error) {
      const cleanup = await this.rollback(model, version, keys.versionPrefix);
      throw new PublishError(
        `Publishing ${model}/${version} failed while uploading ${current}: ${describeCause(error)}${cleanup}`,
        model,
        version,
        current,
        error,
      );
    }
  }

  private async checkUploaded(key: string, size: number): Promise<void> {
    const info = await this.deps.store.head(key);
    if (!info)
      throw new RegistryError(`s3://${this.deps.store.bucket}/${key} is missing after upload`);
    if (info.size !== size)
      throw new RegistryError(
        `s3://${this.deps.store.bucket}/${key} has ${info.size} bytes after upload, expected ${size}`,
      );
  }

  /**
   * Removes the version's objects and marks it failed. Returns a sentence for the error message
   * when something could not be cleaned up (the caller's error stays the one reported).
   */
  private async rollback(model: string, version: number, prefix: string): Promise<string> {
    const problems: string[] = [];
    try {
      await this.deps.store.deletePrefix(prefix);
    } catch (error) {
      problems.push(
        `uploaded objects may remain under s3://${this.deps.store.bucket}/${prefix} (${describeCause(error)})`,
      );
    }
    try {
      await this.deps.repository.markFailed(model, version);
    } catch (error) {
      problems.push(`the version could not be marked failed (${describeCause(error)})`);
    }
    const text = problems.length
      ? `. Cleanup incomplete: ${problems.join('; ')}`
      : '. Uploaded objects were removed and the version is marked failed';
    this.log(problems.length ? 'warn' : 'info', `${model}/${version}${text}`);
    return text;
  }
}

function contentTypeOf(file: string): string {
  if (file.endsWith('.json')) return 'application/json';
  if (file.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
