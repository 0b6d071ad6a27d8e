import { InvalidNameError } from '@strata/artifact-layout';
import { ConfigError } from '@strata/config';
import { OriginFetchError, RegistryError, describeCause } from '@strata/model-registry';

/** Exit codes of every `strata` command. */
export const EXIT = {
  ok: 0,
  /** The command was valid but failed: S3, Postgres, a bad artifact, a conflict, not found. */
  runtime: 1,
  /** The command line or the configuration is wrong: nothing was attempted. */
  usage: 2,
} as const;

/** A problem with the command line found by a command itself (not by commander). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit code and message for an error that reached the top of a command. */
export function describeFailure(error: unknown): { code: number; message: string } {
  if (error instanceof UsageError || error instanceof InvalidNameError)
    return { code: EXIT.usage, message: error.message };
  if (error instanceof ConfigError) return { code: EXIT.usage, message: error.message };
  if (error instanceof OriginFetchError && error.kind === 'invalid-url')
    return { code: EXIT.usage, message: `Invalid --origin-url: ${error.message}` };
  if (error instanceof RegistryError) return { code: EXIT.runtime, message: error.message };
  // Anything else (a database driver error, a bug): its message, without a stack trace.
  const name = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
  return { code: EXIT.runtime, message: `${name}${describeCause(error)}` };
}
