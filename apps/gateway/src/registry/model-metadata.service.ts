import { validateAlias, validateModelName, validateVersion } from '@strata/artifact-layout';
import {
  LATEST_ALIAS,
  type ModelRecord,
  type ModelRegistryRepository,
  type ResolvedVersion,
  type TensorSpec,
} from '@strata/model-registry';
import { TtlCache } from './ttl-cache';

/** A ready version, resolved from a number or an alias, with what requests need of it. */
export interface ResolvedModel {
  model: string;
  version: number;
  workspace: string;
  taskType: string;
  manifestDigest: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** How it was asked for. */
  via: ResolvedVersion['via'];
}

/** The v2 model metadata document (`GET /v2/models/{m}[/versions/{v}]`). */
export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: 'onnxruntime_onnx';
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/**
 * Model metadata for requests: alias → version resolution and inputs/outputs, from the registry
 * (Postgres), kept in process for MODEL_METADATA_LOCAL_TTL_MS and dropped at once when a
 * registry event names the model (registry-events.subscriber.ts).
 */
export class ModelMetadataService {
  private readonly resolved: TtlCache<ResolvedModel>;
  private readonly models: TtlCache<ModelRecord | null>;

  constructor(
    private readonly repository: ModelRegistryRepository,
    ttlMs: number,
    now: () => number = Date.now,
  ) {
    this.resolved = new TtlCache(ttlMs, 4096, now);
    this.models = new TtlCache(ttlMs, 1024, now);
  }

  /**
   * `ref` a version number (or its decimal string) or an alias; absent means `latest`. Unknown
   * models, versions and aliases are registry NotFound errors (404); invalid names 400.
   */
  resolve(model: string, ref?: string | number): Promise<ResolvedModel> {
    validateModelName(model);
    let key: string;
    if (ref === undefined || ref === '') key = LATEST_ALIAS;
    else if (typeof ref === 'number' || /^[0-9]+$/.test(ref)) key = String(validateVersion(ref));
    else key = validateAlias(ref);
    return this.resolved.get(`${model}\u0000${key}`, async () => {
      const v = await this.repository.resolve(model, /^[0-9]+$/.test(key) ? Number(key) : key);
      return {
        model,
        version: v.version,
        workspace: v.workspace,
        taskType: v.metadata.taskType,
        manifestDigest: v.manifestDigest,
        inputs: v.metadata.inputs,
        outputs: v.metadata.outputs,
        via: v.via,
      };
    });
  }

  /** The model with its ready versions and aliases; null when unknown. */
  getModel(model: string): Promise<ModelRecord | null> {
    validateModelName(model);
    return this.models.get(model, () => this.repository.getModel(model));
  }

  /** The model as it is now (not cached: an admin path); deleted versions when asked. */
  findModel(
    model: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelRecord | null> {
    return this.repository.getModel(model, options);
  }

  /** Every model (not cached: an admin and listing path). */
  listModels(): Promise<ModelRecord[]> {
    return this.repository.listModels();
  }

  async v2Metadata(model: string, ref?: string): Promise<V2ModelMetadata> {
    const resolved = await this.resolve(model, ref);
    const record = await this.getModel(model);
    const versions = (record?.versions ?? [])
      .filter((v) => v.status === 'ready' && !v.deletedAt)
      .map((v) => String(v.version));
    return {
      name: model,
      versions: ref === undefined ? versions : [String(resolved.version)],
      platform: 'onnxruntime_onnx',
      inputs: resolved.inputs,
      outputs: resolved.outputs,
    };
  }

  /** Drops what is cached about one model (a registry event named it), or everything. */
  invalidate(model?: string): void {
    if (model === undefined) {
      this.resolved.clear();
      this.models.clear();
      return;
    }
    this.resolved.deleteWhere((k) => k.startsWith(`${model}\u0000`));
    this.models.deleteWhere((k) => k === model);
  }
}
