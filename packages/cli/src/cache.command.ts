import { parseModelRef } from '@strata/artifact-layout';
import { PredictionCacheAdmin } from '@strata/model-registry';
import type { Command } from 'commander';
import type { CliContext } from './cli-context';

async function invalidate(ctx: CliContext, ref: string, opts: { json?: boolean }): Promise<void> {
  const parsed = parseModelRef(ref);
  const admin = new PredictionCacheAdmin({
    repository: ctx.repository(),
    events: ctx.registryEvents(),
  });
  const result = await admin.invalidate(
    parsed.model,
    parsed.kind === 'version' ? parsed.version : parsed.kind === 'alias' ? parsed.alias : undefined,
  );
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const what =
    result.versions.length === 0
      ? 'no versions'
      : `version${result.versions.length === 1 ? '' : 's'} ${result.versions.join(', ')}`;
  ctx.io.stdout.write(`Invalidated the cached predictions of ${result.model} (${what})\n`);
}

export function registerCacheCommands(program: Command, ctx: CliContext): void {
  const cache = program.command('cache').description('manage the prediction cache');
  cache
    .command('invalidate')
    .description(
      'make every cached prediction of a model (NAME) or one version (NAME/VERSION, NAME/ALIAS) unreachable at once',
    )
    .argument('<ref>', 'NAME, NAME/VERSION or NAME/ALIAS')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { json?: boolean }) => invalidate(ctx, ref, opts));
}
