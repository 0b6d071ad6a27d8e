import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrate, MigrationError, MIGRATION_LOCK_CLASS } from '../../src/migrate';
import { MIGRATIONS_DIR } from '../../src/paths';
import {
  builtCli,
  committedMigrationNames,
  copyOfMigrations,
  freshSchema,
  migrationRows,
  tablesIn,
  withClient,
} from './test-database';

const TABLES = [
  '_prisma_migrations',
  'api_keys',
  'model_aliases',
  'model_versions',
  'models',
  'usage_aggregates',
  'usage_consumed_events',
  'workflow_versions',
  'workflows',
  'workspaces',
];

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Exit> {
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

async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('migrate', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function schemaForTest() {
    const db = freshSchema();
    cleanups.push(db.drop);
    return db;
  }

  it('creates the schema from ?schema= and applies every migration into it', async () => {
    const db = schemaForTest();
    const lines: string[] = [];
    const result = await migrate({ databaseUrl: db.url, log: (line) => lines.push(line) });

    expect(result).toEqual({ schema: db.schema, applied: committedMigrationNames() });
    expect(await tablesIn(db.schema)).toEqual(TABLES);
    const rows = await migrationRows(db.schema);
    expect(rows.map((r) => r.migration_name)).toEqual(committedMigrationNames());
    for (const row of rows) {
      expect(row).toMatchObject({ finished: true, rolled_back: false, applied_steps_count: 1 });
      // Prisma's bookkeeping: sha256 hex of the migration file as committed.
      expect(row.checksum).toBe(
        sha256(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql')),
      );
    }
    expect(lines.join('\n')).toContain(`applied ${committedMigrationNames()[0]}`);
  });

  it('is a no-op the second time and says so', async () => {
    const db = schemaForTest();
    await migrate({ databaseUrl: db.url });
    const before = await migrationRows(db.schema);

    const lines: string[] = [];
    const again = await migrate({ databaseUrl: db.url, log: (line) => lines.push(line) });

    expect(again.applied).toEqual([]);
    expect(lines.join('\n')).toMatch(/up to date.*nothing to apply/);
    expect(await migrationRows(db.schema)).toEqual(before);
  });

  it('lets two processes started together both succeed, recording each migration once', async () => {
    const db = schemaForTest();
    const cli = builtCli('migrate');

    const exits = await Promise.all([
      run([cli, '--database-url', db.url]),
      run([cli, '--database-url', db.url]),
    ]);

    for (const exit of exits) expect(exit).toMatchObject({ code: 0, stderr: '' });
    const appliedLines = exits
      .flatMap((e) => e.stdout.split('\n'))
      .filter((l) => l.startsWith('applied '));
    expect(appliedLines.sort()).toEqual(committedMigrationNames().map((n) => `applied ${n}`));
    expect(exits.filter((e) => e.stdout.includes('nothing to apply'))).toHaveLength(1);
    const rows = await migrationRows(db.schema);
    expect(rows.map((r) => r.migration_name)).toEqual(committedMigrationNames());
    expect(rows.every((r) => r.finished)).toBe(true);
  });

  it('waits for the per-schema advisory lock before touching the database', async () => {
    const db = schemaForTest();
    await withClient(async (holder) => {
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [
        MIGRATION_LOCK_CLASS,
        db.schema,
      ]);
      let settled = false;
      const running = migrate({ databaseUrl: db.url }).finally(() => (settled = true));
      try {
        await waitUntil(async () => {
          const { rows } = await holder.query<{ waiting: number }>(
            `SELECT count(*)::int AS waiting FROM pg_locks
              WHERE locktype = 'advisory' AND NOT granted AND classid = $1::bigint::oid
                AND objid = (hashtext($2)::bigint & 4294967295)::oid`,
            [MIGRATION_LOCK_CLASS, db.schema],
          );
          return rows[0]!.waiting === 1;
        }, 'migrate to queue on the advisory lock');
        expect(settled).toBe(false);
        expect(await tablesIn(db.schema)).toEqual([]);
      } finally {
        await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', [
          MIGRATION_LOCK_CLASS,
          db.schema,
        ]);
      }
      expect((await running).applied).toEqual(committedMigrationNames());
    });
  });

  describe('with a broken migration', () => {
    const BROKEN = '29991231000000_broken';
    // A table, a function whose body holds a quoted ';' (which a split-on-';' runner breaks), then
    // a statement that fails: none of it may survive.
    const PARTS = [
      'CREATE TABLE "half_done" ("id" INTEGER PRIMARY KEY);',
      `CREATE FUNCTION "semi_colon"() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$;`,
    ];
    const FAILING = 'INSERT INTO "no_such_table" VALUES (1);';

    function brokenCopy(): string {
      const copy = copyOfMigrations();
      cleanups.push(copy.remove);
      fs.mkdirSync(path.join(copy.dir, BROKEN));
      fs.writeFileSync(
        path.join(copy.dir, BROKEN, 'migration.sql'),
        [...PARTS, FAILING].join('\n'),
      );
      return copy.dir;
    }

    it('fails clearly, keeps none of its changes, and applies it once it is fixed', async () => {
      const db = schemaForTest();
      const dir = brokenCopy();

      const failure = await migrate({ databaseUrl: db.url, migrationsDir: dir }).catch(
        (e: unknown) => e,
      );

      expect(failure).toBeInstanceOf(MigrationError);
      const error = failure as MigrationError;
      expect(error.message).toContain(`migration ${BROKEN} failed on schema "${db.schema}"`);
      expect(error.message).toMatch(/no_such_table/);
      expect(error.failedMigrations).toEqual([BROKEN]);
      // The migrations before it are in; nothing of it is.
      expect(await tablesIn(db.schema)).toEqual(TABLES);
      const functions = await withClient(async (client) => {
        const { rows } = await client.query(
          `SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = $1 AND p.proname = 'semi_colon'`,
          [db.schema],
        );
        return rows.length;
      });
      expect(functions).toBe(0);
      const rows = await migrationRows(db.schema);
      expect(rows.find((r) => r.migration_name === BROKEN)).toMatchObject({
        finished: false,
        rolled_back: true,
      });

      // Fixed, it is applied by the next run, $$ body and all.
      fs.writeFileSync(path.join(dir, BROKEN, 'migration.sql'), PARTS.join('\n'));
      const retry = await migrate({ databaseUrl: db.url, migrationsDir: dir });
      expect(retry.applied).toEqual([BROKEN]);
      expect(await tablesIn(db.schema)).toContain('half_done');
      const semi = await withClient(async (client) => {
        const { rows: result } = await client.query<{ v: string }>(
          `SELECT "${db.schema}"."semi_colon"() AS v`,
        );
        return result[0]!.v;
      });
      expect(semi).toBe('a;b');
    });

    it('makes the CLI exit non-zero with the reason on stderr', async () => {
      const db = schemaForTest();
      const exit = await run([
        builtCli('migrate'),
        '--database-url',
        db.url,
        '--migrations-dir',
        brokenCopy(),
      ]);
      expect(exit.code).toBe(1);
      expect(exit.stderr).toContain(`error: migration ${BROKEN} failed on schema "${db.schema}"`);
      expect(await tablesIn(db.schema)).not.toContain('half_done');
    });
  });

  it('makes the CLI refuse to run without a database URL', async () => {
    const exit = await run([builtCli('migrate'), '--database-url', '']);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('DATABASE_URL');
  });
});
