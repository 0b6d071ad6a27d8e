#!/usr/bin/env node
import { createMigration, EmptyMigrationError } from '../create-migration';
import { parseCliArgs, runCli, UsageError } from './cli-args';

const USAGE = `Usage: strata-db-migration-create NAME [--database-url URL] [--schema FILE] [--migrations-dir DIR]

Writes prisma/migrations/<timestamp>_NAME/migration.sql: the SQL from the committed migrations to
prisma/schema.prisma, computed by Prisma's wasm schema engine in a throwaway shadow database on the
server of $DATABASE_URL (or --database-url; needs CREATE DATABASE). Exits 3 when nothing changed.`;

void runCli(USAGE, async () => {
  const args = parseCliArgs(process.argv.slice(2), ['schema', 'migrations-dir']);
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // eslint-disable-next-line no-restricted-properties -- this tool's only setting; loadConfig('cli') would also demand S3 settings
  const databaseUrl = args.databaseUrl ?? process.env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError('DATABASE_URL is not set and --database-url was not given');
  if (args.positionals.length !== 1) throw new UsageError('expected exactly one migration NAME');
  try {
    await createMigration({
      databaseUrl,
      name: args.positionals[0]!,
      schemaPath: args.values.schema as string | undefined,
      migrationsDir: args.values['migrations-dir'] as string | undefined,
      log: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (error) {
    if (!(error instanceof EmptyMigrationError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 3;
  }
});
