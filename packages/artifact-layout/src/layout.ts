import * as path from 'node:path';
import { InvalidNameError, PathEscapeError } from './errors';
import {
  isSafeName,
  validateModelName,
  validateSafeName,
  validateVersion,
  validateWorkflowName,
  validateWorkspace,
} from './names';

/** The files of one model version, by role. */
export const ARTIFACT_FILES = {
  weights: 'weights.onnx',
  environment: 'environment.json',
  classNames: 'class_names.txt',
  modelType: 'model_type.json',
  keypointsMetadata: 'keypoints_metadata.json',
  manifest: 'manifest.json',
} as const;

export type ArtifactRole = keyof typeof ARTIFACT_FILES;

/** Every manifest must list these. */
export const REQUIRED_ARTIFACT_FILES: readonly string[] = [ARTIFACT_FILES.weights];

/** Files a publisher usually ships; only `weights.onnx` is enforced. */
export const KNOWN_ARTIFACT_FILES: readonly string[] = [
  ARTIFACT_FILES.weights,
  ARTIFACT_FILES.environment,
  ARTIFACT_FILES.classNames,
  ARTIFACT_FILES.modelType,
  ARTIFACT_FILES.keypointsMetadata,
];

export const MODELS_DIR = 'models';
export const STAGING_DIR = '.staging';
export const WORKFLOWS_DIR = 'workflows';
export const LOCKS_DIR = '.locks';

/**
 * A file name that may be part of a model version: the common name rule (lowercase, no
 * separators, no '..'), and never `manifest.json`, which describes the others and so cannot
 * list itself. Names beyond the known set are allowed for extras such as ONNX external-data
 * files (`weights.onnx.data`).
 */
export function validateArtifactFileName(name: unknown): string {
  validateSafeName('artifact file name', name);
  if (name === ARTIFACT_FILES.manifest)
    throw new InvalidNameError(
      'artifact file name',
      name,
      'is the manifest itself',
      'any other file name of the model version',
    );
  return name as string;
}

export function isArtifactFileName(name: unknown): name is string {
  return isSafeName(name) && name !== ARTIFACT_FILES.manifest;
}

// ---------------------------------------------------------------------------------------------
// S3

const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Normalises `S3_PREFIX`: no leading or trailing '/', no empty, '.' or '..' segments. */
export function normalizeS3Prefix(prefix: string): string {
  if (typeof prefix !== 'string')
    throw new InvalidNameError('S3 prefix', prefix, 'must be a string', 'a string');
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  for (const seg of trimmed.split('/')) {
    if (!PREFIX_SEGMENT.test(seg) || seg === '.' || seg === '..' || seg.includes('..'))
      throw new InvalidNameError(
        'S3 prefix',
        prefix,
        `has the segment ${JSON.stringify(seg)}`,
        "segments of A-Z a-z 0-9 . _ - separated by single '/', without '.' or '..' segments",
      );
  }
  return trimmed;
}

function assertKeyInside(root: string, key: string): string {
  const parts = key.split('/');
  const clean = !parts.some(
    (p, i) => p === '..' || p === '.' || (p === '' && i < parts.length - 1),
  );
  if (!clean || !key.startsWith(root) || path.posix.normalize(key) !== key)
    throw new PathEscapeError(root, key);
  return key;
}

function s3Root(prefix: string): string {
  const p = normalizeS3Prefix(prefix);
  return p === '' ? `${MODELS_DIR}/` : `${p}/${MODELS_DIR}/`;
}

/** `PREFIX/models/{model}/` (no leading '/'; just `models/...` when the prefix is empty). */
export function s3ModelPrefix(prefix: string, model: string): string {
  const root = s3Root(prefix);
  return assertKeyInside(root, `${root}${validateModelName(model)}/`);
}

/** `PREFIX/models/{model}/{version}/`, ending with '/', for listing a version. */
export function s3VersionPrefix(prefix: string, model: string, version: number | string): string {
  const root = s3Root(prefix);
  return assertKeyInside(root, `${root}${validateModelName(model)}/${validateVersion(version)}/`);
}

/** The key of one file of a model version; the file name is validated. */
export function s3FileKey(
  prefix: string,
  model: string,
  version: number | string,
  fileName: string,
): string {
  const dir = s3VersionPrefix(prefix, model, version);
  const name = fileName === ARTIFACT_FILES.manifest ? fileName : validateArtifactFileName(fileName);
  return assertKeyInside(dir, `${dir}${name}`);
}

export type ArtifactS3Keys = { readonly [R in ArtifactRole]: string } & {
  /** `PREFIX/models/{model}/{version}/` */
  readonly versionPrefix: string;
  /** Key of any other file of the version (validated). */
  file(name: string): string;
};

export function s3Keys(prefix: string, model: string, version: number | string): ArtifactS3Keys {
  const versionPrefix = s3VersionPrefix(prefix, model, version);
  const key = (name: string) => assertKeyInside(versionPrefix, `${versionPrefix}${name}`);
  return {
    versionPrefix,
    weights: key(ARTIFACT_FILES.weights),
    environment: key(ARTIFACT_FILES.environment),
    classNames: key(ARTIFACT_FILES.classNames),
    modelType: key(ARTIFACT_FILES.modelType),
    keypointsMetadata: key(ARTIFACT_FILES.keypointsMetadata),
    manifest: key(ARTIFACT_FILES.manifest),
    file: (name: string) =>
      key(name === ARTIFACT_FILES.manifest ? name : validateArtifactFileName(name)),
  };
}

// ---------------------------------------------------------------------------------------------
// Disk

/**
 * Throws unless `target` resolves to `root` or below it. Lexical only (symlinks are not
 * followed): it guards against a name slipping through validation, not against a hostile
 * cache directory.
 */
export function assertInside(root: string, target: string): string {
  const r = path.resolve(root);
  const t = path.resolve(target);
  const rootWithSep = r.endsWith(path.sep) ? r : r + path.sep;
  if (t !== r && !t.startsWith(rootWithSep)) throw new PathEscapeError(r, t);
  return t;
}

function cacheRoot(cacheDir: string): string {
  if (typeof cacheDir !== 'string' || cacheDir === '' || cacheDir.includes('\0'))
    throw new InvalidNameError(
      'cache directory',
      cacheDir,
      'must be a non-empty path without NUL bytes',
      'a directory path',
    );
  return path.resolve(cacheDir);
}

/** `{cacheDir}/models` */
export function modelsRoot(cacheDir: string): string {
  const root = cacheRoot(cacheDir);
  return assertInside(root, path.join(root, MODELS_DIR));
}

/** `{cacheDir}/.staging`: on the same file system as the cache, so renames out of it are atomic. */
export function stagingRoot(cacheDir: string): string {
  const root = cacheRoot(cacheDir);
  return assertInside(root, path.join(root, STAGING_DIR));
}

/** `{cacheDir}/workflows` */
export function workflowsRoot(cacheDir: string): string {
  const root = cacheRoot(cacheDir);
  return assertInside(root, path.join(root, WORKFLOWS_DIR));
}

/** `{cacheDir}/models/{model}` */
export function modelDir(cacheDir: string, model: string): string {
  const root = modelsRoot(cacheDir);
  return assertInside(root, path.join(root, validateModelName(model)));
}

/** `{cacheDir}/models/{model}/{version}` (no trailing separator). */
export function versionDir(cacheDir: string, model: string, version: number | string): string {
  const root = modelsRoot(cacheDir);
  return assertInside(
    root,
    path.join(root, validateModelName(model), String(validateVersion(version))),
  );
}

export type ArtifactDiskPaths = { readonly [R in ArtifactRole]: string } & {
  /** `{cacheDir}` resolved to an absolute path. */
  readonly cacheDir: string;
  /** `{cacheDir}/models/{model}/{version}` */
  readonly dir: string;
  /** Path of any other file of the version (validated). */
  file(name: string): string;
};

export function diskPaths(
  cacheDir: string,
  model: string,
  version: number | string,
): ArtifactDiskPaths {
  const dir = versionDir(cacheDir, model, version);
  const file = (name: string) => assertInside(dir, path.join(dir, name));
  return {
    cacheDir: cacheRoot(cacheDir),
    dir,
    weights: file(ARTIFACT_FILES.weights),
    environment: file(ARTIFACT_FILES.environment),
    classNames: file(ARTIFACT_FILES.classNames),
    modelType: file(ARTIFACT_FILES.modelType),
    keypointsMetadata: file(ARTIFACT_FILES.keypointsMetadata),
    manifest: file(ARTIFACT_FILES.manifest),
    file: (name: string) =>
      file(name === ARTIFACT_FILES.manifest ? name : validateArtifactFileName(name)),
  };
}

/** `{cacheDir}/workflows/{workspace}/{workflow}.json`: the last-known-good definition. */
export function workflowPath(cacheDir: string, workspace: string, workflow: string): string {
  const root = workflowsRoot(cacheDir);
  return assertInside(
    root,
    path.join(root, validateWorkspace(workspace), `${validateWorkflowName(workflow)}.json`),
  );
}

/** `{cacheDir}/.locks`: lock files of `acquireFileLock`, kept out of the data trees. */
export function locksRoot(cacheDir: string): string {
  const root = cacheRoot(cacheDir);
  return assertInside(root, path.join(root, LOCKS_DIR));
}

/** `{cacheDir}/.locks/domain.lock`: guards cache-wide work (eviction, startup reconciliation). */
export function domainLockPath(cacheDir: string): string {
  const root = locksRoot(cacheDir);
  return assertInside(root, path.join(root, 'domain.lock'));
}

/** `{cacheDir}/.locks/models/{model}/{version}.lock`: guards one version's download and commit. */
export function versionLockPath(cacheDir: string, model: string, version: number | string): string {
  const root = locksRoot(cacheDir);
  return assertInside(
    root,
    path.join(root, MODELS_DIR, validateModelName(model), `${validateVersion(version)}.lock`),
  );
}
