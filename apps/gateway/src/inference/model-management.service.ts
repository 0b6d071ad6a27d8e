import { validateModelName, validateVersion } from '@strata/artifact-layout';
import type { LoadModelResult } from '@strata/cache-keys';
import type { TensorSpec } from '@strata/model-registry';
import type { PlacementReader, Placement } from '../redis/placement.reader';
import type { WorkerCommandsPublisher } from '../redis/worker-commands.publisher';
import type { ArtifactFilesService } from '../registry/artifact-files.service';
import type { ModelMetadataService, ResolvedModel } from '../registry/model-metadata.service';
import { readPreprocessing } from '../tasks/preprocess-config';
import type { InferenceService } from './inference.service';

/** A loaded version as `GET /model/registry` lists it. */
export interface LoadedModel {
  model_id: string;
  model: string;
  version: number;
  task_type: string;
  input_width: number | null;
  input_height: number | null;
  /** The batch dimension of the first input: a size, or `dynamic`. */
  batch_size: number | 'dynamic' | null;
  workers: string[];
}

/** An entry of the v2 repository index. */
export interface RepositoryIndexEntry {
  name: string;
  version: string;
  state: 'READY' | 'UNAVAILABLE';
  reason: string;
}

function imageDims(input: TensorSpec | undefined): { width: number | null; height: number | null } {
  if (!input || input.shape.length !== 4) return { width: null, height: null };
  const [, , h, w] = input.shape;
  return { width: w > 0 ? w : null, height: h > 0 ? h : null };
}

/**
 * Loading and unloading models on the workers: `load` is an `infer` `load` job (one worker loads
 * it; others load on their first request), `unload` and `clear` are commands on the events
 * channel (every worker), and what is loaded where comes from the workers' placement records.
 */
export class ModelManagementService {
  constructor(
    private readonly metadata: ModelMetadataService,
    private readonly inference: InferenceService,
    private readonly placement: PlacementReader,
    private readonly commands: WorkerCommandsPublisher,
    private readonly artifacts: ArtifactFilesService,
  ) {}

  async load(
    model: string,
    ref?: string | number,
  ): Promise<LoadModelResult & { model_id: string }> {
    const target = await this.metadata.resolve(model, ref);
    const result = await this.inference.load({ model: target.model, version: target.version });
    return { model_id: `${target.model}/${target.version}`, ...result };
  }

  /**
   * Unloads one version (a number or an alias, resolved now) or, without `ref`, every version
   * of the model, on every worker. A number is taken as is: a deleted version can be unloaded.
   */
  async unload(model: string, ref?: string | number): Promise<{ model: string; version?: number }> {
    validateModelName(model);
    let version: number | undefined;
    if (ref !== undefined && ref !== '') {
      version =
        typeof ref === 'number' || /^[0-9]+$/.test(ref)
          ? validateVersion(ref)
          : (await this.metadata.resolve(model, ref)).version;
    }
    await this.commands.publish(
      version === undefined ? { type: 'unload', model } : { type: 'unload', model, version },
    );
    return version === undefined ? { model } : { model, version };
  }

  async clear(): Promise<void> {
    await this.commands.publish({ type: 'clear' });
  }

  /** Versions loaded on at least one worker, with what a client needs to send them images. */
  async loaded(): Promise<LoadedModel[]> {
    const placements = await this.placement.loaded();
    return Promise.all(placements.map((p) => this.describeLoaded(p)));
  }

  private async describeLoaded(p: Placement): Promise<LoadedModel> {
    const base: LoadedModel = {
      model_id: `${p.model}/${p.version}`,
      model: p.model,
      version: p.version,
      task_type: 'unknown',
      input_width: null,
      input_height: null,
      batch_size: null,
      workers: p.workers,
    };
    let target: ResolvedModel;
    try {
      target = await this.metadata.resolve(p.model, p.version);
    } catch {
      // Deleted since it was loaded: listed with what the placement record says.
      return base;
    }
    const first = target.inputs[0];
    let dims = imageDims(first);
    try {
      const artifacts = await this.artifacts.get(target);
      const pre = readPreprocessing(artifacts.environment, target.inputs);
      if (pre.size) dims = { width: pre.size.width, height: pre.size.height };
    } catch {
      // environment.json unreadable or not an image model: the input shape is all there is.
    }
    const batch = first?.shape[0];
    return {
      ...base,
      task_type: target.taskType || 'unknown',
      input_width: dims.width,
      input_height: dims.height,
      batch_size: batch === undefined ? null : batch > 0 ? batch : 'dynamic',
    };
  }

  /** The v2 repository index: every ready version, READY when some worker has it loaded. */
  async repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    const [models, placements] = await Promise.all([
      this.metadata.listModels(),
      this.placement.loaded(),
    ]);
    const loaded = new Set(placements.map((p) => `${p.model}/${p.version}`));
    const entries: RepositoryIndexEntry[] = [];
    for (const m of models) {
      for (const v of m.versions) {
        if (v.status !== 'ready' || v.deletedAt) continue;
        const isLoaded = loaded.has(`${m.name}/${v.version}`);
        if (readyOnly && !isLoaded) continue;
        entries.push({
          name: m.name,
          version: String(v.version),
          state: isLoaded ? 'READY' : 'UNAVAILABLE',
          reason: isLoaded ? '' : 'not loaded (a worker loads it on the first request)',
        });
      }
    }
    return entries;
  }
}
