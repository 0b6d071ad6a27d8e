import { createHash } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, ManifestError, quoteValue } from './errors';
import {
  ARTIFACT_FILES,
  assertInside,
  isArtifactFileName,
  REQUIRED_ARTIFACT_FILES,
  validateArtifactFileName,
} from './layout';
import { isSafeName, MAX_VERSION, validateModelName, validateVersion } from './names';

export const MANIFEST_FORMAT_VERSION = 1;

/** One file of a model version. `files` of a manifest is exactly DESIGN's `[{path, size, sha256}]`. */
export interface ManifestEntry {
  /** A plain file name in the version directory (no directories). */
  path: string;
  /** Bytes. */
  size: number;
  /** 64 lowercase hex digits. */
  sha256: string;
}

/**
 * `manifest.json` of a model version. The DESIGN's `[{path, size, sha256}]` array is `files`;
 * the envelope adds a format version (so the format can evolve) and the model and version it
 * describes (so a manifest copied to the wrong prefix is caught).
 */
export interface Manifest {
  formatVersion: 1;
  model: string;
  version: number;
  files: ManifestEntry[];
  /** ISO 8601 timestamp. Not part of {@link manifestDigest}. */
  createdAt: string;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const TOP_KEYS = ['formatVersion', 'model', 'version', 'files', 'createdAt'];
const ENTRY_KEYS = ['path', 'size', 'sha256'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ParseManifestOptions {
  /** When given, the manifest must describe exactly this model version. */
  expect?: { model: string; version: number | string };
}

/**
 * Parses and strictly validates a manifest (JSON text, bytes, or an already parsed value).
 * Unknown keys are refused: a newer format must bump `formatVersion`. Throws a
 * {@link ManifestError} listing every problem found.
 */
export function parseManifest(
  input: string | Uint8Array | unknown,
  options: ParseManifestOptions = {},
): Manifest {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ManifestError(`Manifest is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (Array.isArray(value))
    throw new ManifestError(
      'Manifest is a bare array; expected {formatVersion: 1, model, version, files: [{path, size, sha256}], createdAt}',
    );
  if (!isPlainObject(value)) throw new ManifestError('Manifest must be a JSON object');

  const issues: string[] = [];
  for (const k of Object.keys(value))
    if (!TOP_KEYS.includes(k)) issues.push(`unknown key ${quoteValue(k)}`);
  if (value.formatVersion !== MANIFEST_FORMAT_VERSION)
    issues.push(
      `formatVersion must be ${MANIFEST_FORMAT_VERSION}, got ${quoteValue(value.formatVersion)}`,
    );
  if (!isSafeName(value.model))
    issues.push(`model ${quoteValue(value.model)} is not a valid model name`);
  if (
    typeof value.version !== 'number' ||
    !Number.isInteger(value.version) ||
    value.version < 1 ||
    value.version > MAX_VERSION
  )
    issues.push(`version ${quoteValue(value.version)} is not an integer from 1 to ${MAX_VERSION}`);
  if (
    typeof value.createdAt !== 'string' ||
    !ISO_RE.test(value.createdAt) ||
    Number.isNaN(Date.parse(value.createdAt))
  )
    issues.push(`createdAt ${quoteValue(value.createdAt)} is not an ISO 8601 timestamp`);

  if (!Array.isArray(value.files)) {
    issues.push('files must be an array of {path, size, sha256}');
  } else {
    const seen = new Set<string>();
    value.files.forEach((e: unknown, i: number) => {
      const at = `files[${i}]`;
      if (!isPlainObject(e)) {
        issues.push(`${at} must be an object {path, size, sha256}`);
        return;
      }
      for (const k of Object.keys(e))
        if (!ENTRY_KEYS.includes(k)) issues.push(`${at} has unknown key ${quoteValue(k)}`);
      if (e.path === ARTIFACT_FILES.manifest)
        issues.push(`${at}.path: the manifest cannot list itself`);
      else if (!isArtifactFileName(e.path))
        issues.push(
          `${at}.path ${quoteValue(e.path)} is not a plain file name (a-z 0-9 . _ -, no '/', no '..')`,
        );
      else if (seen.has(e.path)) issues.push(`${at}.path ${quoteValue(e.path)} is listed twice`);
      else seen.add(e.path);
      if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0)
        issues.push(`${at}.size ${quoteValue(e.size)} is not a non-negative integer`);
      if (typeof e.sha256 !== 'string' || !SHA256_RE.test(e.sha256))
        issues.push(`${at}.sha256 ${quoteValue(e.sha256)} is not 64 lowercase hex digits`);
    });
    for (const req of REQUIRED_ARTIFACT_FILES)
      if (!seen.has(req)) issues.push(`files does not list the required ${req}`);
  }

  if (issues.length === 0 && options.expect) {
    const model = validateModelName(options.expect.model);
    const version = validateVersion(options.expect.version);
    if (value.model !== model || value.version !== version)
      issues.push(
        `describes ${String(value.model)}/${String(value.version)}, expected ${model}/${version}`,
      );
  }
  if (issues.length > 0) throw new ManifestError('Invalid manifest', issues);

  const v = value as unknown as Manifest;
  return {
    formatVersion: 1,
    model: v.model,
    version: v.version,
    files: v.files.map((e) => ({ path: e.path, size: e.size, sha256: e.sha256 })),
    createdAt: v.createdAt,
  };
}

/** The JSON written to `manifest.json`: files sorted by path, two-space indent, final newline. */
export function serializeManifest(manifest: Manifest): string {
  const m = parseManifest(manifest);
  const files = [...m.files].sort((a, b) => cmp(a.path, b.path));
  return `${JSON.stringify({ ...m, files }, null, 2)}\n`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * sha256 (hex) over the canonical form of what the manifest promises: format version, model,
 * version and the files sorted by path, as compact JSON with keys in a fixed order.
 * `createdAt` is left out so re-publishing identical bytes gives the same digest.
 */
export function manifestDigest(manifest: Manifest): string {
  const m = parseManifest(manifest);
  const files = [...m.files]
    .sort((a, b) => cmp(a.path, b.path))
    .map((e) => ({ path: e.path, sha256: e.sha256, size: e.size }));
  const canonical = JSON.stringify({
    files,
    formatVersion: m.formatVersion,
    model: m.model,
    version: m.version,
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Hashing files

export interface FileDigest {
  size: number;
  sha256: string;
}

// O_NOFOLLOW: a symlink planted where a file is expected is refused (ELOOP) rather than read.
const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0);

async function openRegular(
  filePath: string,
): Promise<{ fh: fs.FileHandle; size: number } | { problem: 'missing' | 'not-a-file' }> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(filePath, OPEN_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return { problem: 'missing' };
    if (code === 'ELOOP' || code === 'EISDIR') return { problem: 'not-a-file' };
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    return { problem: 'not-a-file' };
  }
  return { fh, size: st.size };
}

async function hashHandle(fh: fs.FileHandle): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  // A stream over the already-open handle: the bytes hashed are those of the file checked.
  for await (const chunk of fh.createReadStream({ autoClose: false, start: 0 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Streams a regular file through sha256. Refuses symlinks and anything but regular files. */
export async function hashFile(filePath: string): Promise<FileDigest> {
  const opened = await openRegular(filePath);
  if ('problem' in opened)
    throw new ManifestError(
      opened.problem === 'missing'
        ? `${filePath} does not exist`
        : `${filePath} is not a regular file (symlinks and directories are refused)`,
    );
  try {
    return await hashHandle(opened.fh);
  } finally {
    await opened.fh.close();
  }
}

export interface BuildManifestOptions {
  model: string;
  version: number | string;
  /** Default: now. */
  createdAt?: Date;
}

/**
 * Describes the regular files at the top level of `dir` (all but `manifest.json`). Refuses
 * subdirectories, symlinks, other special files and names that could not be published, so
 * what is hashed is exactly what a loader will download.
 */
export async function buildManifest(dir: string, options: BuildManifestOptions): Promise<Manifest> {
  const model = validateModelName(options.model);
  const version = validateVersion(options.version);
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const issues: string[] = [];
  const names: string[] = [];
  for (const e of entries) {
    if (e.name === ARTIFACT_FILES.manifest) continue;
    if (e.isSymbolicLink()) issues.push(`${quoteValue(e.name)} is a symlink`);
    else if (e.isDirectory()) issues.push(`${quoteValue(e.name)} is a subdirectory`);
    else if (!e.isFile()) issues.push(`${quoteValue(e.name)} is not a regular file`);
    else if (!isArtifactFileName(e.name))
      issues.push(`${quoteValue(e.name)} is not an allowed file name (a-z 0-9 . _ -, lowercase)`);
    else names.push(e.name);
  }
  if (issues.length > 0)
    throw new ManifestError(
      `Cannot build a manifest of ${dir}: only regular files with plain names are allowed`,
      issues,
    );
  for (const req of REQUIRED_ARTIFACT_FILES)
    if (!names.includes(req))
      throw new ManifestError(`Cannot build a manifest of ${dir}: ${req} is missing`);

  const files: ManifestEntry[] = [];
  for (const name of names.sort(cmp)) {
    const p = assertInside(dir, path.join(dir, validateArtifactFileName(name)));
    const opened = await openRegular(p);
    if ('problem' in opened)
      throw new ManifestError(
        `Cannot build a manifest of ${dir}: ${name} changed while reading (${opened.problem})`,
      );
    try {
      const d = await hashHandle(opened.fh);
      if (d.size !== opened.size)
        throw new ManifestError(`Cannot build a manifest of ${dir}: ${name} changed while hashing`);
      files.push({ path: name, size: d.size, sha256: d.sha256 });
    } finally {
      await opened.fh.close();
    }
  }
  return {
    formatVersion: 1,
    model,
    version,
    files,
    createdAt: (options.createdAt ?? new Date()).toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Verification

export type FileMismatch =
  | { path: string; kind: 'missing' }
  | { path: string; kind: 'not-a-file' }
  | { path: string; kind: 'size'; expected: number; actual: number }
  | { path: string; kind: 'sha256'; expected: string; actual: string }
  | { path: string; kind: 'unexpected' };

export interface VerifyOptions {
  /** Hash every file (true) or only compare sizes (false, for a quick check at startup). */
  checksums: boolean;
}

/** Compares one file with its manifest entry; `null` when it matches. */
export async function verifyFile(
  filePath: string,
  entry: ManifestEntry,
  options: VerifyOptions = { checksums: true },
): Promise<FileMismatch | null> {
  const opened = await openRegular(filePath);
  if ('problem' in opened) return { path: entry.path, kind: opened.problem };
  try {
    if (opened.size !== entry.size)
      return { path: entry.path, kind: 'size', expected: entry.size, actual: opened.size };
    if (!options.checksums) return null;
    const d = await hashHandle(opened.fh);
    if (d.size !== entry.size)
      return { path: entry.path, kind: 'size', expected: entry.size, actual: d.size };
    if (d.sha256 !== entry.sha256)
      return { path: entry.path, kind: 'sha256', expected: entry.sha256, actual: d.sha256 };
    return null;
  } finally {
    await opened.fh.close();
  }
}

export interface VerifyReport {
  ok: boolean;
  /** In manifest order, then unexpected extra files sorted by name. */
  mismatches: FileMismatch[];
}

/**
 * Checks `dir` against `manifest`: every listed file present as a regular file with the right
 * size (and sha256 when `checksums`), and nothing else in the directory but `manifest.json`.
 */
export async function verifyDirectory(
  dir: string,
  manifest: Manifest,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const m = parseManifest(manifest);
  const mismatches: FileMismatch[] = [];
  for (const entry of m.files) {
    const p = assertInside(dir, path.join(dir, entry.path));
    const mm = await verifyFile(p, entry, options);
    if (mm) mismatches.push(mm);
  }
  const listed = new Set(m.files.map((f) => f.path));
  let present: string[] = [];
  try {
    present = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  for (const name of present.sort(cmp))
    if (name !== ARTIFACT_FILES.manifest && !listed.has(name))
      mismatches.push({ path: name, kind: 'unexpected' });
  return { ok: mismatches.length === 0, mismatches };
}

/** One line per mismatch, for logs and error messages. */
export function describeMismatches(mismatches: readonly FileMismatch[]): string {
  return mismatches
    .map((m) => {
      switch (m.kind) {
        case 'missing':
          return `${m.path}: missing`;
        case 'not-a-file':
          return `${m.path}: not a regular file`;
        case 'size':
          return `${m.path}: size ${m.actual}, expected ${m.expected}`;
        case 'sha256':
          return `${m.path}: sha256 ${m.actual}, expected ${m.expected}`;
        case 'unexpected':
          return `${m.path}: not listed in the manifest`;
      }
    })
    .join('\n');
}
