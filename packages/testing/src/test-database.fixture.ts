import { dropSchema, migrate } from '@strata/db';
import { databaseUrlFor } from './test-targets.util';
import { uniqueId } from './unique-id.util';

export interface TestDatabase {
  /** DATABASE_URL for the schema (`…?schema=t_<id>`). */
  readonly url: string;
  readonly schema: string;
  /** Drops the schema and everything in it. Idempotent. */
  drop(): Promise<void>;
}

/** A fresh schema `t_<id>` in the test Postgres with every committed migration applied. */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const schema = `t_${uniqueId(label).replace(/-/g, '_')}`;
  const url = databaseUrlFor(schema);
  await migrate({ databaseUrl: url });
  let dropped = false;
  return {
    url,
    schema,
    async drop() {
      if (dropped) return;
      dropped = true;
      await dropSchema(url);
    },
  };
}
