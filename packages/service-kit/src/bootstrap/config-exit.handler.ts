import { ConfigError, loadConfig, type ConfigFor, type Env } from '@strata/config';
import type { ServiceId } from '../core/service-kit.tokens';

export interface ConfigExitIo {
  readonly env?: Env;
  readonly stderr: { write(chunk: string): unknown };
  readonly exit: (code: number) => never;
}

const processIo: ConfigExitIo = {
  stderr: process.stderr,
  exit: (code) => process.exit(code),
};

/**
 * `loadConfig(service)`, or, on a ConfigError, its message (every bad variable, no stack trace)
 * on stderr and exit 1: an operator reads it in `docker logs` and fixes the environment.
 * Anything else is a bug and is rethrown.
 */
export function loadConfigOrExit<S extends ServiceId>(
  service: S,
  io: ConfigExitIo = processIo,
): ConfigFor<S> {
  try {
    return loadConfig(service, io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`${err.message}\n`);
      return io.exit(1);
    }
    throw err;
  }
}
