import { BadRequestError } from '../http/http-errors';

/** What the prediction cache did for a request; sent as `x-strata-cache`. */
export type CacheStatus = 'hit' | 'miss' | 'bypass';

export const CACHE_STATUS_HEADER = 'x-strata-cache';

const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);

/**
 * `use_cache` as a client may send it: a JSON boolean (body, `parameters`), or a query-string
 * word. Undefined when absent; anything else is a 400 (a typo must not silently read the cache).
 */
export function parseUseCache(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (FALSE_WORDS.has(word)) return false;
    if (TRUE_WORDS.has(word)) return true;
  }
  throw new BadRequestError(`${where} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Whether `Cache-Control` forbids the cache: `no-cache` (do not answer from a stored entry) or
 * `no-store` (do not keep the answer). Both bypass entirely: no read and no write.
 */
export function cacheControlBypasses(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  return text
    .split(',')
    .map((d) => d.trim().toLowerCase().split('=')[0])
    .some((d) => d === 'no-cache' || d === 'no-store');
}

/** The request's wish: false when any of `use_cache=false` or Cache-Control says so. */
export function requestAllowsCache(sources: {
  query?: unknown;
  body?: unknown;
  cacheControl?: string | string[];
}): boolean {
  if (cacheControlBypasses(sources.cacheControl)) return false;
  const query = parseUseCache(sources.query, 'the use_cache query parameter');
  const body = parseUseCache(sources.body, 'use_cache');
  return query !== false && body !== false;
}
