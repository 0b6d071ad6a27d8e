import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import { Pool, type PoolClient } from 'pg';
import { poolConfig, quoteIdent, type DatabaseTarget } from '../connection';

// Postgres' one-byte internal type `"char"` (pg_class.relkind, pg_constraint.contype, ...), which
// the engine's introspection queries return and adapter-pg refuses to decode; as text it is fine.
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

type QueryFn = (...args: unknown[]) => unknown;
interface QueryResultLike {
  fields?: { dataTypeID: number }[];
}

function relabelChar(result: unknown): void {
  for (const field of (result as QueryResultLike | undefined)?.fields ?? []) {
    if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  }
}

/** Wraps `target.query` (promise or callback style) so results report `"char"` columns as text. */
function decodeCharAsText(target: { query: unknown }): void {
  const original = (target.query as QueryFn).bind(target);
  target.query = (...args: unknown[]): unknown => {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as (err: unknown, result: unknown) => void;
      return original(...args.slice(0, -1), (err: unknown, result: unknown) => {
        if (!err) relabelChar(result);
        callback(err, result);
      });
    }
    const pending = original(...args);
    if (pending instanceof Promise) {
      return pending.then((result: unknown) => {
        relabelChar(result);
        return result;
      });
    }
    return pending;
  };
}

function makePool(target: DatabaseTarget, database?: string): Pool {
  const config = poolConfig(target, { max: 4 });
  if (database) {
    const url = new URL(target.connectionString);
    url.pathname = `/${encodeURIComponent(database)}`;
    config.connectionString = url.toString();
  }
  const pool = new Pool(config);
  decodeCharAsText(pool);
  pool.on('connect', (client: PoolClient) => decodeCharAsText(client));
  // Errors of idle clients surface on the next query; without a listener they crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * adapter-pg's `executeScript` splits the script on every `;` and runs the pieces one by one on
 * whatever pooled connection is free: `$$` bodies and quoted semicolons break, and a failing
 * migration is left half-applied. One simple-protocol query runs the whole script as one implicit
 * transaction on one connection instead.
 */
function withWholeScripts(adapter: SqlDriverAdapter, pool: Pool): SqlDriverAdapter {
  // adapter-pg's own conversion of a pg error into the DriverAdapterError the engine understands
  // (SQLSTATE, message, detail); a raw error would reach the engine as "External error id#0".
  const rethrow = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string): Promise<void> => {
    if (script.trim().length === 0) return;
    try {
      await pool.query(script);
    } catch (error) {
      rethrow(error);
    }
  };
  return adapter;
}

export interface MigrationAdapter {
  readonly factory: ErrorCapturingSqlMigrationAwareDriverAdapterFactory;
  /** Ends every pool the engine opened through the factory (freeing the engine does not). */
  close(): Promise<void>;
}

/**
 * The driver adapter factory the wasm engine runs on: adapter-pg on our own pools (search_path
 * set to the target schema, `"char"` decodable), with whole-script execution, and a shadow
 * database that really is a separate, throwaway database (adapter-pg's own `connectToShadowDb`
 * reuses the connection string, whose database name wins, so it lands on the main database).
 */
export function createMigrationAdapter(target: DatabaseTarget): MigrationAdapter {
  const options = { schema: target.schema };
  const open = new Set<Pool>();
  const track = (pool: Pool): Pool => {
    open.add(pool);
    return pool;
  };
  const end = async (pool: Pool): Promise<void> => {
    if (open.delete(pool)) await pool.end();
  };
  const shadows = new Set<() => Promise<void>>();

  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    async connect() {
      const pool = track(makePool(target));
      const adapter = await new PrismaPg(pool, options).connect();
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose();
        await end(pool);
      };
      return withWholeScripts(adapter, pool);
    },
    async connectToShadowDb() {
      const name = `prisma_migrate_shadow_db_${randomUUID().replaceAll('-', '')}`;
      const admin = track(new Pool({ connectionString: target.connectionString, max: 1 }));
      admin.on('error', () => undefined);
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
      const pool = track(makePool(target, name));
      const dropShadow = async (): Promise<void> => {
        shadows.delete(dropShadow);
        await end(pool);
        try {
          await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        } finally {
          await end(admin);
        }
      };
      shadows.add(dropShadow);
      try {
        if (target.schema !== 'public') {
          await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
        }
        const adapter = await new PrismaPg(pool, options).connect();
        const dispose = adapter.dispose.bind(adapter);
        adapter.dispose = async () => {
          await dispose();
          await dropShadow();
        };
        return withWholeScripts(adapter, pool);
      } catch (error) {
        await dropShadow();
        throw error;
      }
    },
  };

  return {
    factory: bindMigrationAwareSqlAdapterFactory(factory),
    async close() {
      // A shadow database the engine did not dispose of is dropped here, never left behind.
      for (const drop of [...shadows]) await drop().catch(() => undefined);
      for (const pool of [...open]) await end(pool).catch(() => undefined);
    },
  };
}
