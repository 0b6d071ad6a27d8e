import { Command, CommanderError } from 'commander';
import type { Env } from '@strata/config';
import { CliContext, type CliIo } from './cli-context';
import { describeFailure, EXIT } from './exit-codes';
import { registerCacheCommands } from './cache.command';
import { registerKeysCommands } from './keys.command';
import { registerModelsCommands } from './models.command';

const VERSION = '0.1.0';

/** The command tree; one `register…Commands` per group (`models`, `keys`, `cache`). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('strata')
    .description(
      'Strata command line: publish and manage ONNX models, API keys and the prediction cache',
    )
    .version(VERSION, '-V, --version', 'print the version of this CLI')
    // Program options only before the command, so `models push --version N` stays push's own.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    })
    // Commander would exit(1) on a usage error; usage errors are exit code 2 here.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerModelsCommands(program, ctx);
  registerKeysCommands(program, ctx);
  registerCacheCommands(program, ctx);
  return program;
}

/**
 * Runs one command line (`argv` without `node` and the script) and returns the exit code. Errors
 * are printed as one message on stderr, never as a stack trace.
 */
export async function runCli(argv: string[], io: CliIo, env?: Env): Promise<number> {
  const ctx = new CliContext(io, env);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output exit 0 (commander has printed them); its usage errors are 2.
      if (error.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const { code, message } = describeFailure(error);
    io.stderr.write(`strata: ${message}\n`);
    return code;
  } finally {
    await ctx.close();
  }
}
