/** Base class of every error this package throws on purpose; `instanceof` tells them from bugs. */
export class RegistryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Base of the three "does not exist" errors, so callers (HTTP 404, CLI exit 1) need one check. */
export class NotFoundError extends RegistryError {}

export class ModelNotFoundError extends NotFoundError {
  constructor(readonly model: string) {
    super(`Unknown model "${model}"`);
  }
}

/** Why a version cannot be used: it never existed, it was deleted, or it is not ready. */
export type VersionUnavailableReason = 'missing' | 'deleted' | 'uploading' | 'failed';

export class VersionNotFoundError extends NotFoundError {
  constructor(
    readonly model: string,
    readonly version: number,
    readonly reason: VersionUnavailableReason = 'missing',
  ) {
    super(
      reason === 'missing'
        ? `Unknown version ${version} of model "${model}"`
        : reason === 'deleted'
          ? `Version ${version} of model "${model}" was deleted`
          : `Version ${version} of model "${model}" is not ready (status ${reason})`,
    );
  }
}

export class AliasNotFoundError extends NotFoundError {
  constructor(
    readonly model: string,
    readonly alias: string,
  ) {
    super(
      alias === 'latest'
        ? `Model "${model}" has no ready version (alias "latest" is unset)`
        : `Unknown alias "${alias}" of model "${model}"`,
    );
  }
}

export class VersionExistsError extends RegistryError {
  constructor(
    readonly model: string,
    readonly version: number,
    readonly status: string,
  ) {
    super(`version exists: model "${model}" already has version ${version} (status ${status})`);
  }
}

/** The model is registered in another workspace (model names are global). */
export class WorkspaceMismatchError extends RegistryError {
  constructor(
    readonly model: string,
    readonly workspace: string,
    readonly requested: string,
  ) {
    super(
      `Model "${model}" belongs to workspace "${workspace}", not "${requested}" (model names are unique across workspaces)`,
    );
  }
}

/** A refused alias change or deletion (e.g. an alias still points at the version). */
export class AliasConflictError extends RegistryError {}

/** The publish directory or one of its files cannot be published as it is. */
export class InvalidArtifactError extends RegistryError {}

/** Publishing failed after something was written; names what and why. */
export class PublishError extends RegistryError {
  constructor(
    message: string,
    readonly model: string,
    readonly version: number,
    readonly file: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

export function describeCause(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
