import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  buildManifest,
  manifestDigest,
  serializeManifest,
  versionDir,
} from '@strata/artifact-layout';
import type { PrismaClient } from '@strata/db';
import { ModelRegistryRepository, inspectOnnxModel, type TensorSpec } from '@strata/model-registry';

export interface RegisteredVersion {
  model: string;
  version: number;
  dir: string;
}

/**
 * Registers a ready version without S3: the files go straight into the gateway's disk cache
 * (`MODEL_CACHE_DIR/models/{model}/{version}/` with a manifest), the rows into Postgres with the
 * manifest's digest, as if the model-loader had downloaded a published version.
 */
export async function registerVersion(
  prisma: PrismaClient,
  cacheDir: string,
  options: {
    model: string;
    weights: Buffer | string;
    taskType?: string;
    files?: Record<string, string | Buffer>;
    alias?: string;
    signature?: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  },
): Promise<RegisteredVersion> {
  const repo = new ModelRegistryRepository(prisma);
  const version = await repo.nextVersionNumber(options.model);
  const dir = versionDir(cacheDir, options.model, version);
  await fs.mkdir(dir, { recursive: true });
  const weights =
    typeof options.weights === 'string' ? await fs.readFile(options.weights) : options.weights;
  await fs.writeFile(path.join(dir, 'weights.onnx'), weights);
  for (const [name, data] of Object.entries(options.files ?? {})) {
    await fs.writeFile(path.join(dir, name), data);
  }
  const manifest = await buildManifest(dir, { model: options.model, version });
  await fs.writeFile(path.join(dir, 'manifest.json'), serializeManifest(manifest));
  const signature = options.signature ?? (await inspectOnnxModel(path.join(dir, 'weights.onnx')));
  const taskType = options.taskType ?? 'unknown';
  await repo.createVersion({
    model: options.model,
    taskType,
    version,
    prepare: () => ({
      storagePrefix: `models/${options.model}/${version}/`,
      manifestDigest: manifestDigest(manifest),
      sizeBytes: manifest.files.reduce((n, f) => n + f.size, 0),
      metadata: { taskType, inputs: signature.inputs, outputs: signature.outputs },
    }),
  });
  await repo.markReady(options.model, version, { alias: options.alias });
  return { model: options.model, version, dir };
}
