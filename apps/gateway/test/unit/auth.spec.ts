import {
  hashSecret,
  type ApiKeyService,
  type VerifiedApiKey,
  type VerifyResult,
} from '@strata/api-keys';
import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { ApiKeyAuthService } from '../../src/auth/api-key-auth.service';
import { AuthCache } from '../../src/auth/auth-cache';
import { extractApiKey } from '../../src/auth/auth.guard';

const SECRET = `sk_${'a'.repeat(32)}`;
const KEY: VerifiedApiKey = {
  id: 'id-1',
  name: 'k',
  workspace: 'default',
  prefix: 'sk_aaaaaaaa',
  scopes: ['infer'],
  keyHash: 'h',
  rateLimit: null,
  expiresAt: null,
};

function fakeKeys(result: VerifyResult) {
  const calls = { verify: 0, touch: 0 };
  const keys = {
    verify: async () => {
      calls.verify += 1;
      return result;
    },
    touch: async () => {
      calls.touch += 1;
      return true;
    },
  } as unknown as ApiKeyService;
  return { keys, calls };
}

describe('AuthCache', () => {
  it('expires entries, evicts the oldest, and can be disabled', () => {
    let now = 0;
    const cache = new AuthCache(1000, 2, () => now);
    cache.set('a', { ok: false, reason: 'unknown' });
    cache.set('b', { ok: false, reason: 'unknown' });
    cache.set('c', { ok: false, reason: 'unknown' });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeDefined();
    now = 1000;
    expect(cache.get('c')).toBeUndefined();
    const off = new AuthCache(0);
    off.set('a', { ok: false, reason: 'unknown' });
    expect(off.size).toBe(0);
  });
});

describe('ApiKeyAuthService', () => {
  const logger = pino({ level: 'silent' });

  it('asks Postgres once per TTL and refuses malformed keys without asking', async () => {
    const { keys, calls } = fakeKeys({ ok: true, key: KEY });
    const auth = new ApiKeyAuthService(keys, new AuthCache(60_000), logger);
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    expect(calls.verify).toBe(1);
    expect(await auth.authenticate('not-a-key')).toEqual({ ok: false, reason: 'malformed' });
    expect(calls.verify).toBe(1);
  });

  it('re-checks the expiry of a cached key and forgets revoked ones', async () => {
    let now = 0;
    const { keys, calls } = fakeKeys({ ok: true, key: { ...KEY, expiresAt: new Date(500) } });
    const auth = new ApiKeyAuthService(keys, new AuthCache(60_000, 10, () => now), logger, {
      now: () => now,
    });
    expect((await auth.authenticate(SECRET)).ok).toBe(true);
    now = 500;
    expect(await auth.authenticate(SECRET)).toEqual({ ok: false, reason: 'expired' });
    auth.forget(hashSecret(SECRET));
    await auth.authenticate(SECRET);
    expect(calls.verify).toBe(2);
  });

  it('reads the key from the Authorization header, else ?api_key', () => {
    const req = (headers: Record<string, string>, query: Record<string, string> = {}) =>
      ({ headers, query }) as unknown as FastifyRequest;
    expect(extractApiKey(req({ authorization: `Bearer ${SECRET}` }))).toBe(SECRET);
    expect(extractApiKey(req({ authorization: `bearer  ${SECRET} ` }))).toBe(SECRET);
    expect(extractApiKey(req({}, { api_key: SECRET }))).toBe(SECRET);
    expect(extractApiKey(req({}))).toBeUndefined();
  });
});
