import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseDatabaseUrl } from './connection';
import { describeEngineError } from './engine/engine-errors';
import { createMigrationAdapter } from './engine/migration-adapter';
import { enginePanic, openSchemaEngine } from './engine/wasm-engine';
import {
  LOCK_FILE,
  LOCK_FILE_CONTENT,
  MIGRATION_FILE,
  NO_FILTER,
  readMigrationsList,
} from './migrations/migrations-list';
import { MIGRATIONS_DIR, SCHEMA_PATH } from './paths';

export interface CreateMigrationOptions {
  /**
   * Any database on a server where a throwaway shadow database may be created (CREATE DATABASE):
   * the committed migrations are replayed there to know the current state. The database named in
   * the URL is left untouched; `?schema=` is ignored, migrations are schema-agnostic.
   */
  readonly databaseUrl: string;
  /** Directory suffix, e.g. `add_model_owner`; normalised to lowercase snake_case. */
  readonly name: string;
  /** Defaults to this package's `prisma/schema.prisma`. */
  readonly schemaPath?: string;
  /** Defaults to this package's `prisma/migrations`. */
  readonly migrationsDir?: string;
  /** Clock for the directory timestamp (tests). */
  readonly now?: Date;
  readonly log?: (line: string) => void;
}

export interface CreatedMigration {
  /** `<yyyyMMddHHmmss>_<name>` */
  readonly name: string;
  readonly directory: string;
  readonly sql: string;
}

/** The schema already matches the committed migrations: there is nothing to write. */
export class EmptyMigrationError extends Error {
  constructor(schemaPath: string, migrationsDir: string) {
    super(`no changes: ${schemaPath} matches the migrations in ${migrationsDir}; nothing written`);
    this.name = 'EmptyMigrationError';
  }
}

/** Prisma's own normalisation of a migration name: lowercase words joined by `_`. */
export function normalizeMigrationName(name: string): string {
  const normalized = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (normalized.length === 0) {
    throw new Error(`invalid migration name ${JSON.stringify(name)}: use letters and digits`);
  }
  return normalized.slice(0, 200);
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function parseTimestamp(stamp: string): Date {
  const n = (from: number, to: number): number => Number(stamp.slice(from, to));
  return new Date(Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(8, 10), n(10, 12), n(12, 14)));
}

/** A timestamp after every existing one, so the new migration sorts last even within a second. */
export function nextTimestamp(now: Date, existing: readonly string[]): string {
  const candidate = timestamp(now);
  const latest = existing
    .map((name) => name.slice(0, 14))
    .filter((prefix) => /^\d{14}$/.test(prefix))
    .sort()
    .at(-1);
  if (latest === undefined || candidate > latest) return candidate;
  return timestamp(new Date(parseTimestamp(latest).getTime() + 1000));
}

/** True when the script has at least one statement besides comments and whitespace. */
export function hasStatements(sql: string): boolean {
  return sql
    .split('\n')
    .map((line) => line.replace(/--.*$/, '').trim())
    .some((line) => line.length > 0);
}

/**
 * Writes the next migration: the SQL that takes a database from the committed migrations to
 * `schema.prisma`, computed by Prisma's wasm schema engine (`migrate diff --from-migrations
 * --to-schema`; its `createMigration` cannot use an external shadow database for PostgreSQL).
 * Refuses to write anything when there is no change, or when the engine returns no SQL.
 */
export async function createMigration(options: CreateMigrationOptions): Promise<CreatedMigration> {
  const log = options.log ?? (() => undefined);
  const name = normalizeMigrationName(options.name);
  const schemaPath = path.resolve(options.schemaPath ?? SCHEMA_PATH);
  const migrationsDir = path.resolve(options.migrationsDir ?? MIGRATIONS_DIR);
  const schema = await fs.readFile(schemaPath, 'utf8');
  const migrationsList = await readMigrationsList(migrationsDir);
  // The engine needs the provider the history was written for; a new history is PostgreSQL's.
  const lockfile = {
    ...migrationsList.lockfile,
    content: migrationsList.lockfile.content ?? LOCK_FILE_CONTENT,
  };

  // Always "public": an engine connected with another schema writes it into the SQL
  // (CREATE SCHEMA "x"), and committed migrations must apply to whatever schema deploys them.
  const target = { ...parseDatabaseUrl(options.databaseUrl), schema: 'public' };
  const adapter = createMigrationAdapter(target);
  let script: string | null;
  let exitCode: number;
  try {
    const engine = await openSchemaEngine(adapter.factory, [[schemaPath, schema]], () => undefined);
    try {
      log(
        `replaying ${migrationsList.migrationDirectories.length} migrations in a shadow database`,
      );
      const result = await engine.diff({
        from: { tag: 'migrations', ...migrationsList, lockfile },
        to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
        script: true,
        exitCode: true,
        filters: NO_FILTER,
      });
      script = result.stdout;
      exitCode = result.exitCode;
    } finally {
      engine.free();
    }
  } catch (error) {
    throw new Error(`computing the migration failed: ${describeEngineError(error, enginePanic())}`);
  } finally {
    await adapter.close();
  }

  // With exitCode requested, the engine answers 0 for "no difference" and 2 for "difference".
  if (exitCode === 0) throw new EmptyMigrationError(schemaPath, migrationsDir);
  if (exitCode !== 2 || script === null || !hasStatements(script)) {
    throw new Error(
      `the schema engine reported a change (exit code ${exitCode}) but returned no SQL; nothing written`,
    );
  }

  const existing = migrationsList.migrationDirectories.map((dir) => dir.path);
  const fullName = `${nextTimestamp(options.now ?? new Date(), existing)}_${name}`;
  const directory = path.join(migrationsDir, fullName);
  // The file is renamed into place: a crash leaves a directory without migration.sql, which the
  // next deploy reports as an error, never half a script that it would apply.
  await fs.mkdir(migrationsDir, { recursive: true });
  await fs.mkdir(directory);
  const partial = path.join(directory, `${MIGRATION_FILE}.partial`);
  await fs.writeFile(partial, script);
  await fs.rename(partial, path.join(directory, MIGRATION_FILE));
  if (migrationsList.lockfile.content === null) {
    await fs.writeFile(path.join(migrationsDir, LOCK_FILE), LOCK_FILE_CONTENT);
  }
  log(`wrote ${path.join(directory, MIGRATION_FILE)}`);
  return { name: fullName, directory, sql: script };
}
