import { Client } from 'pg';
import { parseDatabaseUrl, quoteIdent, type DatabaseTarget } from './connection';
import { describeEngineError, formatEngineLog } from './engine/engine-errors';
import { createMigrationAdapter } from './engine/migration-adapter';
import { enginePanic, openSchemaEngine } from './engine/wasm-engine';
import { NO_FILTER, readMigrationsList } from './migrations/migrations-list';
import { MIGRATIONS_DIR } from './paths';

export interface MigrateOptions {
  /** `postgresql://…[?schema=NAME]`; the schema is created when missing. */
  readonly databaseUrl: string;
  /** Defaults to this package's committed `prisma/migrations`. */
  readonly migrationsDir?: string;
  /** Progress lines for people; nothing is printed when omitted. */
  readonly log?: (line: string) => void;
}

export interface MigrateResult {
  readonly schema: string;
  /** Migrations applied by this call, in order; empty when the database was up to date. */
  readonly applied: readonly string[];
}

/** A migration run that failed; the message says which migration and why. */
export class MigrationError extends Error {
  constructor(
    message: string,
    /** Migrations that failed in this run and were rolled back (see `migrate`). */
    readonly failedMigrations: readonly string[] = [],
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

// pg_advisory_lock(int4, int4): a class of our own plus the schema, so runs against different
// schemas of one database (parallel test runs) do not wait for each other.
export const MIGRATION_LOCK_CLASS = 0x53545241; // "STRA"

async function openLockedSession(target: DatabaseTarget): Promise<Client> {
  const client = new Client({ connectionString: target.connectionString });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [
      MIGRATION_LOCK_CLASS,
      target.schema,
    ]);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

async function failedMigrationNames(client: Client, schema: string): Promise<Set<string>> {
  const table = `${quoteIdent(schema)}."_prisma_migrations"`;
  const { rows } = await client.query<{ to_regclass: string | null }>('SELECT to_regclass($1)', [
    table,
  ]);
  if (!rows[0]?.to_regclass) return new Set();
  const failed = await client.query<{ migration_name: string }>(
    `SELECT migration_name FROM ${table} WHERE finished_at IS NULL AND rolled_back_at IS NULL`,
  );
  return new Set(failed.rows.map((row) => row.migration_name));
}

/**
 * Applies the pending committed migrations, like `prisma migrate deploy`, with Prisma's own
 * (wasm) schema engine: same `_prisma_migrations` table and checksums, so the Prisma CLI and this
 * function can take turns on one database.
 *
 * - Runs under a Postgres advisory lock per schema: concurrent callers queue, and the later ones
 *   find nothing left to apply.
 * - Each migration script runs as one statement batch, hence one transaction: a failing migration
 *   leaves none of its changes behind. Its `_prisma_migrations` row is then marked rolled back, so
 *   the next run retries it once fixed instead of refusing to start (Prisma's P3009).
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const target = parseDatabaseUrl(options.databaseUrl);
  const migrationsList = await readMigrationsList(options.migrationsDir ?? MIGRATIONS_DIR);
  const total = migrationsList.migrationDirectories.length;
  if (total === 0) {
    throw new MigrationError(`no migrations found in ${migrationsList.baseDir}`);
  }

  const lock = await openLockedSession(target);
  const adapter = createMigrationAdapter(target);
  try {
    await lock.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
    const failedBefore = await failedMigrationNames(lock, target.schema);
    const engine = await openSchemaEngine(adapter.factory, undefined, (line) => {
      const entry = formatEngineLog(line);
      if (entry && (entry.level === 'ERROR' || entry.level === 'WARN')) {
        log(`engine ${entry.level.toLowerCase()}: ${entry.text}`);
      }
    });
    try {
      const { appliedMigrationNames } = await engine.applyMigrations({
        migrationsList,
        filters: NO_FILTER,
      });
      if (appliedMigrationNames.length === 0) {
        log(`schema "${target.schema}" is up to date (${total} migrations, nothing to apply)`);
      } else {
        for (const name of appliedMigrationNames) log(`applied ${name}`);
        log(
          `schema "${target.schema}": applied ${appliedMigrationNames.length} of ${total} migrations`,
        );
      }
      return { schema: target.schema, applied: appliedMigrationNames };
    } catch (error) {
      const failedNow = [...(await failedMigrationNames(lock, target.schema))].filter(
        (name) => !failedBefore.has(name),
      );
      for (const migrationName of failedNow) {
        await engine.markMigrationRolledBack({ migrationName });
      }
      const detail = describeEngineError(error, enginePanic());
      const message =
        failedNow.length > 0
          ? `migration ${failedNow.join(', ')} failed on schema "${target.schema}": ${detail}\n` +
            'None of its changes were kept (each migration runs as one transaction). It is marked ' +
            'rolled back in _prisma_migrations, so the next run applies it again once fixed.'
          : `migrating schema "${target.schema}" failed: ${detail}`;
      throw new MigrationError(message, failedNow);
    } finally {
      engine.free();
    }
  } finally {
    await adapter.close();
    await lock
      .query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, target.schema])
      .catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
