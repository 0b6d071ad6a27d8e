import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LOCK_FILE_CONTENT, readMigrationsList } from '../../src/migrations/migrations-list';
import { MIGRATIONS_DIR } from '../../src/paths';

describe('readMigrationsList', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-db-list-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists directories in name order with their scripts, like the Prisma CLI', async () => {
    for (const name of ['20260102000000_b', '20260101000000_a']) {
      fs.mkdirSync(path.join(dir, name));
      fs.writeFileSync(path.join(dir, name, 'migration.sql'), `-- ${name}\n`);
    }
    fs.mkdirSync(path.join(dir, '20260103000000_no_file'));
    fs.writeFileSync(path.join(dir, 'migration_lock.toml'), LOCK_FILE_CONTENT);
    fs.writeFileSync(path.join(dir, 'README.md'), 'not a migration');

    const list = await readMigrationsList(dir);
    expect(list.baseDir).toBe(dir);
    expect(list.lockfile).toEqual({ path: 'migration_lock.toml', content: LOCK_FILE_CONTENT });
    expect(list.migrationDirectories.map((d) => d.path)).toEqual([
      '20260101000000_a',
      '20260102000000_b',
      '20260103000000_no_file',
    ]);
    expect(list.migrationDirectories[0]!.migrationFile).toEqual({
      path: 'migration.sql',
      content: { tag: 'ok', value: '-- 20260101000000_a\n' },
    });
    expect(list.migrationDirectories[2]!.migrationFile.content.tag).toBe('error');
  });

  it('treats a missing directory as an empty history', async () => {
    const list = await readMigrationsList(path.join(dir, 'absent'));
    expect(list.migrationDirectories).toEqual([]);
    expect(list.lockfile.content).toBeNull();
  });
});

describe('the committed migrations', () => {
  const entries = fs.readdirSync(MIGRATIONS_DIR, { withFileTypes: true });
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);

  it('carry the lock file prisma migrate deploy expects', () => {
    expect(fs.readFileSync(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), 'utf8')).toBe(
      LOCK_FILE_CONTENT,
    );
  });

  it('are <14-digit timestamp>_<name>/migration.sql, each with SQL in it', () => {
    expect(dirs.length).toBeGreaterThan(0);
    for (const name of dirs) {
      expect(name).toMatch(/^\d{14}_[a-z0-9_]+$/);
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
      expect(sql.trim().length).toBeGreaterThan(0);
      // Schema-agnostic: deploys choose the schema with ?schema=, so no migration may name one.
      expect(sql).not.toMatch(/"public"\./);
      expect(sql).not.toMatch(/CREATE SCHEMA/i);
    }
  });
});
