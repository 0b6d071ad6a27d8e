import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client';
import { parseDatabaseUrl, poolConfig } from './connection';

export interface PrismaClientOptions {
  /** `postgresql://…[?schema=NAME]`; queries run in that schema (default `public`). */
  readonly databaseUrl: string;
  /** Pool size of this client (pg default: 10). */
  readonly maxConnections?: number;
  /** How long to wait for a free or new connection before failing (pg default: forever). */
  readonly connectionTimeoutMs?: number;
  /** Called with errors of idle pooled connections (e.g. the server restarted). */
  readonly onPoolError?: (error: Error) => void;
}

/**
 * A Prisma client on `@prisma/adapter-pg` (no native engine). `?schema=` is honoured twice over:
 * the adapter qualifies generated SQL with it and the pool's search_path points at it, so raw
 * queries see the same tables. Call `$disconnect()` to close the pool.
 */
export function createPrismaClient(options: PrismaClientOptions): PrismaClient {
  const target = parseDatabaseUrl(options.databaseUrl);
  const adapter = new PrismaPg(
    poolConfig(target, {
      max: options.maxConnections,
      connectionTimeoutMillis: options.connectionTimeoutMs,
    }),
    { schema: target.schema, onPoolError: options.onPoolError },
  );
  return new PrismaClient({ adapter });
}

export type PingResult =
  | { readonly ok: true; readonly latencyMs: number }
  | { readonly ok: false; readonly error: string };

/** Anything with Prisma's `$queryRaw`, so extended clients and transactions qualify too. */
export interface RawQueryable {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
}

/**
 * `SELECT 1` within `timeoutMs`, for readiness probes: never throws, never waits longer than the
 * timeout (a hung connection attempt counts as down).
 */
export async function pingDatabase(client: RawQueryable, timeoutMs = 1000): Promise<PingResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([client.$queryRaw`SELECT 1`, timeout]);
    return { ok: true, latencyMs: performance.now() - started };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
