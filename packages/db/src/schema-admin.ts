import { randomBytes } from 'node:crypto';
import { assertSchemaName, parseDatabaseUrl, quoteIdent, withAdminPool } from './connection';

/** The same URL with `?schema=NAME` set (replacing any schema it had). */
export function databaseUrlForSchema(databaseUrl: string, schema: string): string {
  assertSchemaName(schema);
  const url = new URL(databaseUrl);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** A fresh schema name for one test run: `test_` plus 12 random hex characters. */
export function randomSchemaName(prefix = 'test'): string {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  assertSchemaName(name);
  return name;
}

/** Creates the schema named by `?schema=` if it does not exist; returns its name. */
export async function createSchema(databaseUrl: string): Promise<string> {
  return withAdminPool(databaseUrl, async (pool, target) => {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
    return target.schema;
  });
}

/**
 * Drops the schema named by `?schema=` with everything in it. Refuses `public`: this is for the
 * throwaway schemas of tests and previews, not for production data.
 */
export async function dropSchema(databaseUrl: string): Promise<void> {
  const { schema } = parseDatabaseUrl(databaseUrl);
  if (schema === 'public') {
    throw new Error('dropSchema refuses to drop "public"; pass a URL with ?schema=<throwaway>');
  }
  await withAdminPool(databaseUrl, async (pool) => {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  });
}
