import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ARTIFACT_FILES, versionDir } from '@strata/artifact-layout';
import { JobError, type ModelVersionRef } from '@strata/cache-keys';
import type { ModelSource } from '../../src/models/model-source';

/**
 * A model source over a real directory laid out like the loader's cache
 * (`models/{model}/{version}/weights.onnx`): what the worker gets from the model-loader, without
 * the loader. Counts calls so tests can see how many loads happened.
 */
export class DirectoryModelSource implements ModelSource {
  readonly ensured: string[] = [];
  readonly released: string[] = [];
  /** Added to every ensure, to widen the window in which requests pile up on a cold model. */
  delayMs = 0;

  private constructor(readonly root: string) {}

  static async create(): Promise<DirectoryModelSource> {
    return new DirectoryModelSource(await mkdtemp(path.join(tmpdir(), 'strata-iw-models-')));
  }

  /** Copies `onnxFile` in as `model/version`, with an environment.json when given. */
  async install(
    model: string,
    version: number,
    onnxFile: string,
    environment?: unknown,
  ): Promise<string> {
    const dir = versionDir(this.root, model, version);
    await mkdir(dir, { recursive: true });
    await copyFile(onnxFile, path.join(dir, ARTIFACT_FILES.weights));
    if (environment !== undefined) {
      await writeFile(path.join(dir, ARTIFACT_FILES.environment), JSON.stringify(environment));
    }
    return dir;
  }

  /** Writes model bytes (e.g. from @strata/testing's ONNX builders) in as `model/version`. */
  async installBytes(
    model: string,
    version: number,
    onnx: Uint8Array,
    environment?: unknown,
  ): Promise<string> {
    const dir = versionDir(this.root, model, version);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, ARTIFACT_FILES.weights), onnx);
    if (environment !== undefined) {
      await writeFile(path.join(dir, ARTIFACT_FILES.environment), JSON.stringify(environment));
    }
    return dir;
  }

  async ensure(ref: ModelVersionRef): Promise<{ path: string; cached: boolean }> {
    this.ensured.push(`${ref.model}/${ref.version}`);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const dir = versionDir(this.root, ref.model, ref.version);
    const found = await stat(path.join(dir, ARTIFACT_FILES.weights)).catch(() => undefined);
    if (!found)
      throw new JobError(
        'NOT_FOUND',
        `model "${ref.model}" version ${ref.version} is not published`,
      );
    return { path: dir, cached: true };
  }

  async release(ref: ModelVersionRef): Promise<void> {
    this.released.push(`${ref.model}/${ref.version}`);
  }

  ensuredCount(key: string): number {
    return this.ensured.filter((k) => k === key).length;
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
