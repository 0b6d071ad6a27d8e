import { createPrismaClient } from '@strata/db';
import { createTestDatabase, testDatabaseBaseUrl } from '@strata/testing';

async function schemaTables(schema: string): Promise<string[]> {
  const client = createPrismaClient({ databaseUrl: testDatabaseBaseUrl() });
  try {
    const rows = await client.$queryRaw<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}`;
    return rows.map((r) => r.table_name);
  } finally {
    await client.$disconnect();
  }
}

describe('createTestDatabase', () => {
  it('creates a migrated schema of its own and drops it', async () => {
    const db = await createTestDatabase();
    try {
      expect(db.schema).toMatch(/^t_[a-z0-9_]+$/);
      expect(new URL(db.url).searchParams.get('schema')).toBe(db.schema);
      expect(await schemaTables(db.schema)).toContain('_prisma_migrations');
    } finally {
      await db.drop();
    }
    expect(await schemaTables(db.schema)).toEqual([]);
    await db.drop(); // idempotent
  });
});
