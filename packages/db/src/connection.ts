import { Pool, type PoolConfig } from 'pg';

/** A PostgreSQL URL split into what `pg` understands and the Prisma-style `?schema=` parameter. */
export interface DatabaseTarget {
  /** The URL without `schema`, ready for `pg`. */
  readonly connectionString: string;
  /** The schema every table lives in: `?schema=NAME`, else `public`. */
  readonly schema: string;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Splits `postgresql://…?schema=NAME` into a `pg` connection string and the schema. Prisma's
 * native engines read `schema` from the URL; `pg` does not know it, so every pool made here sets
 * `search_path` instead.
 */
export function parseDatabaseUrl(databaseUrl: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('database URL is not a valid URL (expected postgresql://user@host:port/db)');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new Error(`database URL must use postgresql:// (got ${url.protocol}//)`);
  }
  const schema = url.searchParams.get('schema') ?? 'public';
  assertSchemaName(schema);
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

/** Refuses names that would need more than plain double quotes, or that Postgres would cut. */
export function assertSchemaName(name: string): void {
  if (!SCHEMA_NAME.test(name)) {
    throw new Error(
      `invalid schema name ${JSON.stringify(name)}: letters, digits and _ only, at most 63, not starting with a digit`,
    );
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The `pg` pool settings for a target: its connection string plus `search_path` on connect. */
export function poolConfig(target: DatabaseTarget, extra: PoolConfig = {}): PoolConfig {
  return {
    connectionString: target.connectionString,
    // A startup parameter, so it holds on every pooled connection from its first query on.
    options: `-c search_path=${quoteIdent(target.schema)}`,
    ...extra,
  };
}

/** One short-lived connection for administrative statements. */
export async function withAdminPool<T>(
  databaseUrl: string,
  fn: (pool: Pool, target: DatabaseTarget) => Promise<T>,
): Promise<T> {
  const target = parseDatabaseUrl(databaseUrl);
  const pool = new Pool({ connectionString: target.connectionString, max: 1 });
  pool.on('error', () => undefined);
  try {
    return await fn(pool, target);
  } finally {
    await pool.end();
  }
}
