import { ARTIFACT_FILES } from '@strata/artifact-layout';
import { BadRequestError } from '../http/http-errors';
import type { ArtifactSource, VersionFileRef } from './artifact-source.adapter';
import { TtlCache } from './ttl-cache';

/** The small files of a version the task endpoints read. */
export interface VersionArtifacts {
  /** Parsed environment.json; `{}` when the version has none. */
  environment: Record<string, unknown>;
  /** class_names.txt, one name per line; undefined when absent. */
  classNames?: string[];
  /** `task_type` of model_type.json, when present. */
  taskType?: string;
}

/** One name per line; trailing blank lines dropped, inner ones kept (ids stay aligned). */
export function parseClassNames(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.map((l) => l.trim());
}

function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(`${what} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * environment.json, class_names.txt and model_type.json of a version, read once (disk copy or
 * S3) and kept in process. A version's files never change under the same manifest digest, so
 * the digest is part of the key and entries only age out by size (and a long TTL).
 */
export class ArtifactFilesService {
  private readonly cache: TtlCache<VersionArtifacts>;

  constructor(
    private readonly source: ArtifactSource,
    now: () => number = Date.now,
  ) {
    this.cache = new TtlCache(3_600_000, 512, now);
  }

  get(ref: VersionFileRef): Promise<VersionArtifacts> {
    const key = `${ref.model}/${ref.version}/${ref.manifestDigest}`;
    return this.cache.get(key, () => this.load(ref));
  }

  private async load(ref: VersionFileRef): Promise<VersionArtifacts> {
    const label = `${ref.model}/${ref.version}`;
    const [env, names, type] = await Promise.all([
      this.source.read(ref, ARTIFACT_FILES.environment),
      this.source.read(ref, ARTIFACT_FILES.classNames),
      this.source.read(ref, ARTIFACT_FILES.modelType),
    ]);
    const out: VersionArtifacts = {
      environment: env ? parseJsonObject(env, `environment.json of ${label}`) : {},
    };
    if (names) out.classNames = parseClassNames(names.toString('utf8'));
    if (type) {
      const doc = parseJsonObject(type, `model_type.json of ${label}`);
      if (typeof doc.task_type === 'string') out.taskType = doc.task_type;
    }
    return out;
  }
}
