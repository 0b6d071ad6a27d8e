import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMigration, EmptyMigrationError } from '../../src/create-migration';
import { migrate } from '../../src/migrate';
import { SCHEMA_PATH } from '../../src/paths';
import {
  builtCli,
  committedMigrationNames,
  copyOfMigrations,
  freshSchema,
  tablesIn,
  withClient,
} from './test-database';

const BASE_URL = freshSchema().url.replace(/\?.*$/, '');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function shadowDatabases(): Promise<string[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'",
    );
    return rows.map((row) => row.datname);
  });
}

describe('createMigration', () => {
  let work: { dir: string; remove(): void };
  let schemaPath: string;

  beforeEach(() => {
    work = copyOfMigrations();
    schemaPath = path.join(path.dirname(work.dir), 'schema.prisma');
    fs.copyFileSync(SCHEMA_PATH, schemaPath);
  });
  afterEach(() => work.remove());

  it('refuses when schema.prisma matches the committed migrations (and writes nothing)', async () => {
    const before = fs.readdirSync(work.dir);
    const error = await createMigration({
      databaseUrl: BASE_URL,
      name: 'nothing',
      schemaPath,
      migrationsDir: work.dir,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyMigrationError);
    expect(fs.readdirSync(work.dir)).toEqual(before);
    expect(await shadowDatabases()).toEqual([]);
  });

  it('writes the SQL of a schema change, which then migrates a database', async () => {
    const schema = fs.readFileSync(schemaPath, 'utf8');
    const changed = schema.replace(
      '  name      String   @unique\n',
      '  name      String   @unique\n  description String?\n',
    );
    expect(changed).not.toBe(schema);
    fs.writeFileSync(schemaPath, changed);

    const created = await createMigration({
      databaseUrl: BASE_URL,
      name: 'Workspace description',
      schemaPath,
      migrationsDir: work.dir,
    });

    expect(created.name).toMatch(/^\d{14}_workspace_description$/);
    expect(created.sql).toContain('ALTER TABLE "workspaces" ADD COLUMN     "description" TEXT;');
    expect(fs.readFileSync(path.join(created.directory, 'migration.sql'), 'utf8')).toBe(
      created.sql,
    );
    const names = fs
      .readdirSync(work.dir)
      .filter((n) => n !== 'migration_lock.toml')
      .sort();
    expect(names).toEqual([...committedMigrationNames(), created.name]);
    expect(await shadowDatabases()).toEqual([]);

    // Now nothing is left to do for the same schema.
    await expect(
      createMigration({
        databaseUrl: BASE_URL,
        name: 'again',
        schemaPath,
        migrationsDir: work.dir,
      }),
    ).rejects.toBeInstanceOf(EmptyMigrationError);

    const db = freshSchema();
    try {
      const result = await migrate({ databaseUrl: db.url, migrationsDir: work.dir });
      expect(result.applied).toEqual([...committedMigrationNames(), created.name]);
      const columns = await withClient(async (client) => {
        const { rows } = await client.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'workspaces'`,
          [db.schema],
        );
        return rows.map((r) => r.column_name);
      });
      expect(columns).toContain('description');
      expect(await tablesIn(db.schema)).toContain('workspaces');
    } finally {
      await db.drop();
    }
  });

  it('starts a new history with the lock file when there is none', async () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-db-empty-'));
    try {
      const created = await createMigration({
        databaseUrl: BASE_URL,
        name: 'init',
        schemaPath,
        migrationsDir: path.join(emptyDir, 'migrations'),
      });
      expect(created.sql).toContain('CREATE TABLE "workspaces"');
      expect(created.sql).not.toContain('CREATE SCHEMA');
      expect(
        fs.readFileSync(path.join(emptyDir, 'migrations', 'migration_lock.toml'), 'utf8'),
      ).toContain('provider = "postgresql"');
    } finally {
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  it('makes the CLI exit 3 on no change and 2 without a name', async () => {
    const cli = builtCli('migration-create');
    const none = await run([
      cli,
      'x',
      '--database-url',
      BASE_URL,
      '--schema',
      schemaPath,
      '--migrations-dir',
      work.dir,
    ]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no changes');
    const usage = await run([cli, '--database-url', BASE_URL]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage:');
  });
});
