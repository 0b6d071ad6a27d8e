import { parseArgs } from 'node:util';

export interface CliArgs {
  readonly databaseUrl: string | undefined;
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
}

/** `--database-url URL` plus the command's own string options; unknown flags are usage errors. */
export function parseCliArgs(argv: readonly string[], options: readonly string[] = []): CliArgs {
  const spec: Record<string, { type: 'string' | 'boolean' }> = {
    'database-url': { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const name of options) spec[name] = { type: 'string' };
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: spec,
    allowPositionals: true,
  });
  return {
    databaseUrl: values['database-url'] as string | undefined,
    positionals,
    values,
  };
}

export class UsageError extends Error {}

/** Exit codes: 0 done, 1 failed, 2 bad usage. */
export async function runCli(usage: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
