import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  ARTIFACT_FILES,
  buildManifest,
  isArtifactFileName,
  ManifestError,
  quoteValue,
  type ManifestEntry,
} from '@strata/artifact-layout';
import { describeCause, InvalidArtifactError } from './errors';
import { inspectOnnxModel, type ModelSignature } from './onnx-metadata';

/** Task type recorded when neither `model_type.json` nor the caller names one. */
export const DEFAULT_TASK_TYPE = 'unknown';

const MAX_MODEL_TYPE_BYTES = 1024 * 1024;
/** Longest prediction-cache lifetime a model may ask for (30 days, like PREDICTION_CACHE_TTL). */
export const MAX_PREDICTION_CACHE_TTL = 2_592_000;
const TASK_TYPE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** One file to upload: from the user's directory, or generated (never written to their directory). */
export interface ArtifactFile extends ManifestEntry {
  source: { kind: 'file'; path: string } | { kind: 'generated'; data: Buffer };
}

export interface PreparedArtifact {
  dir: string;
  /** Sorted by path; `manifest.json` is not among them. */
  files: ArtifactFile[];
  totalBytes: number;
  taskType: string;
  /**
   * `prediction_cache_ttl` of `model_type.json` (seconds; 0 = never cache this model's
   * predictions); absent when the file names none (PREDICTION_CACHE_TTL applies).
   */
  predictionCacheTtl?: number;
  signature: ModelSignature;
  /** True when `model_type.json` was generated from the ONNX signature. */
  generatedModelType: boolean;
  /** Files present in the directory but not published (a stale `manifest.json`). */
  ignored: string[];
}

/** Validates a task type (a label such as `classification`, `object-detection`). */
export function validateTaskType(taskType: unknown, where = 'task type'): string {
  if (typeof taskType !== 'string' || !TASK_TYPE_RE.test(taskType))
    throw new InvalidArtifactError(
      `Invalid ${where} ${quoteValue(taskType)}: expected 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit`,
    );
  return taskType;
}

/** The `model_type.json` generated when a directory has none: task type and signature. */
export function generateModelType(taskType: string, signature: ModelSignature): Buffer {
  const doc = { task_type: taskType, inputs: signature.inputs, outputs: signature.outputs };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

/** Reads the task type out of a user's `model_type.json`; `undefined` when it names none. */
export function parseModelType(text: string, file: string): string | undefined {
  const taskType = parseModelTypeDocument(text, file).task_type;
  if (taskType === undefined) return undefined;
  return validateTaskType(taskType, `task_type in ${file}`);
}

/**
 * The per-model prediction-cache lifetime a user's `model_type.json` asks for
 * (`"prediction_cache_ttl": seconds`, 0 = never cache); `undefined` when it names none.
 */
export function parsePredictionCacheTtl(text: string, file: string): number | undefined {
  const ttl = parseModelTypeDocument(text, file).prediction_cache_ttl;
  if (ttl === undefined) return undefined;
  if (
    typeof ttl !== 'number' ||
    !Number.isSafeInteger(ttl) ||
    ttl < 0 ||
    ttl > MAX_PREDICTION_CACHE_TTL
  )
    throw new InvalidArtifactError(
      `prediction_cache_ttl in ${file} must be a whole number of seconds from 0 (never cache) to ${MAX_PREDICTION_CACHE_TTL}, got ${quoteValue(ttl)}`,
    );
  return ttl;
}

function parseModelTypeDocument(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new InvalidArtifactError(`${file} is not valid JSON: ${describeCause(error)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new InvalidArtifactError(`${file} must hold a JSON object such as {"task_type": "..."}`);
  return doc as Record<string, unknown>;
}

async function statDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidArtifactError(
      code === 'ENOENT'
        ? `Directory ${dir} does not exist`
        : `Cannot read directory ${dir}: ${describeCause(error)}`,
    );
  }
  if (!st.isDirectory()) throw new InvalidArtifactError(`${dir} is not a directory`);
}

/** Checks the directory's entries before anything is hashed: all problems in one message. */
async function checkEntries(dir: string): Promise<{ ignored: string[] }> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const issues: string[] = [];
  const ignored: string[] = [];
  let hasWeights = false;
  for (const e of entries) {
    if (e.name === ARTIFACT_FILES.manifest) {
      // Strata writes its own manifest for the published version; a copied one is stale.
      ignored.push(e.name);
      continue;
    }
    if (e.isSymbolicLink()) issues.push(`${quoteValue(e.name)} is a symlink`);
    else if (e.isDirectory()) issues.push(`${quoteValue(e.name)} is a subdirectory`);
    else if (!e.isFile()) issues.push(`${quoteValue(e.name)} is not a regular file`);
    else if (!isArtifactFileName(e.name))
      issues.push(
        `${quoteValue(e.name)} is not an allowed file name (lowercase a-z 0-9 . _ -, no '..')`,
      );
    else if (e.name === ARTIFACT_FILES.weights) hasWeights = true;
  }
  if (issues.length > 0)
    throw new InvalidArtifactError(
      `Cannot publish ${dir}: only regular files with plain names are allowed:\n${issues.map((i) => `  - ${i}`).join('\n')}`,
    );
  if (!hasWeights)
    throw new InvalidArtifactError(`Cannot publish ${dir}: ${ARTIFACT_FILES.weights} is missing`);
  return { ignored };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Everything that can be checked without writing anything: the directory, the file names, that
 * `weights.onnx` loads in ONNX Runtime, `model_type.json` (read, or generated in memory), and
 * the size and sha256 of every file.
 */
export async function prepareArtifact(
  dirInput: string,
  options: {
    model: string;
    /** Asked for explicitly: must agree with a `task_type` in `model_type.json`. */
    taskType?: string;
    /**
     * Asked only when neither `model_type.json` nor `taskType` names one, after the local checks
     * passed (the publisher looks up the model's current task type).
     */
    fallbackTaskType?: () => Promise<string | undefined>;
  },
): Promise<PreparedArtifact> {
  const dir = path.resolve(dirInput);
  await statDirectory(dir);
  const { ignored } = await checkEntries(dir);
  const requestedTaskType =
    options.taskType === undefined ? undefined : validateTaskType(options.taskType);

  const signature = await inspectOnnxModel(path.join(dir, ARTIFACT_FILES.weights));

  let entries: ManifestEntry[];
  try {
    // The version is not known yet; the publisher stamps it into the manifest it uploads.
    entries = (await buildManifest(dir, { model: options.model, version: 1 })).files;
  } catch (error) {
    if (error instanceof ManifestError)
      throw new InvalidArtifactError(error.message, { cause: error });
    throw new InvalidArtifactError(`Cannot read ${dir}: ${describeCause(error)}`, {
      cause: error,
    });
  }

  const files: ArtifactFile[] = entries.map((e) => ({
    ...e,
    source: { kind: 'file', path: path.join(dir, e.path) },
  }));

  let taskType: string;
  let predictionCacheTtl: number | undefined;
  let generatedModelType = false;
  const modelTypeEntry = entries.find((e) => e.path === ARTIFACT_FILES.modelType);
  if (modelTypeEntry) {
    const file = path.join(dir, ARTIFACT_FILES.modelType);
    if (modelTypeEntry.size > MAX_MODEL_TYPE_BYTES)
      throw new InvalidArtifactError(`${file} is larger than ${MAX_MODEL_TYPE_BYTES} bytes`);
    const text = await fs.readFile(file, 'utf8');
    const declared = parseModelType(text, file);
    predictionCacheTtl = parsePredictionCacheTtl(text, file);
    if (declared !== undefined && requestedTaskType !== undefined && declared !== requestedTaskType)
      throw new InvalidArtifactError(
        `Task type "${requestedTaskType}" conflicts with task_type "${declared}" in ${file}`,
      );
    taskType =
      declared ?? requestedTaskType ?? (await options.fallbackTaskType?.()) ?? DEFAULT_TASK_TYPE;
  } else {
    taskType = requestedTaskType ?? (await options.fallbackTaskType?.()) ?? DEFAULT_TASK_TYPE;
    const data = generateModelType(taskType, signature);
    files.push({
      path: ARTIFACT_FILES.modelType,
      size: data.length,
      sha256: sha256(data),
      source: { kind: 'generated', data },
    });
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    generatedModelType = true;
  }

  return {
    dir,
    files,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    taskType,
    ...(predictionCacheTtl !== undefined && { predictionCacheTtl }),
    signature,
    generatedModelType,
    ignored,
  };
}
