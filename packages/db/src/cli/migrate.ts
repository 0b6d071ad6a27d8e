#!/usr/bin/env node
import { migrate } from '../migrate';
import { parseCliArgs, runCli, UsageError } from './cli-args';

const USAGE = `Usage: strata-db-migrate [--database-url URL] [--migrations-dir DIR]

Applies the pending migrations of @strata/db (prisma/migrations) with Prisma's wasm schema engine.
The URL defaults to $DATABASE_URL; ?schema=NAME selects (and creates) the schema.`;

void runCli(USAGE, async () => {
  const args = parseCliArgs(process.argv.slice(2), ['migrations-dir']);
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // eslint-disable-next-line no-restricted-properties -- this tool's only setting; loadConfig('cli') would also demand S3 settings
  const databaseUrl = args.databaseUrl ?? process.env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError('DATABASE_URL is not set and --database-url was not given');
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  await migrate({
    databaseUrl,
    migrationsDir: args.values['migrations-dir'] as string | undefined,
    log: (line) => process.stdout.write(`${line}\n`),
  });
});
