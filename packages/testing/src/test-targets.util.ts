// Where tests find the shared Redis and Postgres of the machine; CI may point elsewhere.

export function testRedisUrl(): string {
  return process.env.STRATA_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
}

/** A database URL without `?schema=`; test schemas are created inside this database. */
export function testDatabaseBaseUrl(): string {
  return process.env.STRATA_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
}

/** `testDatabaseBaseUrl()` with `?schema=<schema>`. */
export function databaseUrlFor(schema: string): string {
  const url = new URL(testDatabaseBaseUrl());
  url.searchParams.set('schema', schema);
  return url.toString();
}
