import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { databaseUrlForSchema, dropSchema, randomSchemaName } from '../../src/schema-admin';
import { MIGRATIONS_DIR } from '../../src/paths';

// Same variable as @strata/testing (which depends on this package, so it cannot be used here).
// eslint-disable-next-line no-restricted-properties -- test target, like @strata/testing's
const FROM_ENV = process.env.STRATA_TEST_DATABASE_URL;
const BASE_URL = FROM_ENV || 'postgresql://postgres@127.0.0.1:5432/postgres';

export const PACKAGE_DIR = path.resolve(__dirname, '../..');

/** A schema name and URL of its own for one test; `drop()` removes it (idempotent). */
export function freshSchema(): { schema: string; url: string; drop(): Promise<void> } {
  const schema = randomSchemaName('test_db');
  const url = databaseUrlForSchema(BASE_URL, schema);
  return { schema, url, drop: () => dropSchema(url) };
}

/** Runs `fn` with a plain pg client on the base database. */
export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: BASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function tablesIn(schema: string): Promise<string[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [schema],
    );
    return rows.map((row) => row.table_name);
  });
}

export interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
  rolled_back: boolean;
  applied_steps_count: number;
  logs: string | null;
}

export async function migrationRows(schema: string): Promise<MigrationRow[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<MigrationRow>(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished,
              rolled_back_at IS NOT NULL AS rolled_back, applied_steps_count, logs
         FROM "${schema}"."_prisma_migrations" ORDER BY started_at, migration_name`,
    );
    return rows;
  });
}

/** A temporary copy of the committed migrations directory, removed by `remove()`. */
export function copyOfMigrations(): { dir: string; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-db-migrations-'));
  const dir = path.join(root, 'migrations');
  fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return { dir, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export function committedMigrationNames(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** The built CLI; integration tests run after `build` (turbo dependsOn). */
export function builtCli(name: 'migrate' | 'migration-create'): string {
  const file = path.join(PACKAGE_DIR, 'dist', 'cli', `${name}.js`);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`pnpm --filter @strata/db build\` first`);
  }
  return file;
}
