import {
  ApiKeyNotFoundError,
  ApiKeyService,
  InvalidApiKeyInputError,
  LAST_USED_INTERVAL_MS,
  hashSecret,
} from '@strata/api-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { createTestDatabase, type TestDatabase } from '@strata/testing';

describe('ApiKeyService (Postgres)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let clock = new Date('2030-01-01T00:00:00.000Z');
  let service: ApiKeyService;

  beforeAll(async () => {
    db = await createTestDatabase('apikeys');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 4 });
    service = new ApiKeyService(prisma, { now: () => clock });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.drop();
  });

  it('stores only the sha256 of the secret, shows it once, and verifies it', async () => {
    const { key, secret } = await service.create({ name: 'ci', scopes: ['infer', 'admin'] });
    expect(secret).toMatch(/^sk_[0-9A-Za-z]{32}$/);
    expect(key).toMatchObject({ name: 'ci', workspace: 'default', scopes: ['infer', 'admin'] });
    expect(secret.startsWith(key.prefix)).toBe(true);
    expect(JSON.stringify(key)).not.toContain(secret);
    expect(JSON.stringify(key)).not.toContain(hashSecret(secret));

    const row = await prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(row.secretHash).toBe(hashSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret);

    const verified = await service.verify(secret);
    expect(verified).toEqual({
      ok: true,
      key: expect.objectContaining({
        id: key.id,
        scopes: ['infer', 'admin'],
        keyHash: hashSecret(secret),
      }),
    });
  });

  it('refuses malformed, unknown, revoked and expired keys', async () => {
    expect(await service.verify('nope')).toEqual({ ok: false, reason: 'malformed' });
    expect(await service.verify(`sk_${'A'.repeat(32)}`)).toEqual({ ok: false, reason: 'unknown' });

    const revoked = await service.create({ name: 'to revoke' });
    const first = await service.revoke(revoked.key.id);
    expect(first.alreadyRevoked).toBe(false);
    expect(first.key.revokedAt).toEqual(clock);
    expect(first.keyHash).toBe(hashSecret(revoked.secret));
    expect((await service.revoke(revoked.key.id)).alreadyRevoked).toBe(true);
    expect(await service.verify(revoked.secret)).toEqual({ ok: false, reason: 'revoked' });

    const expiring = await service.create({
      name: 'short',
      expiresAt: new Date(clock.getTime() + 60_000),
    });
    expect((await service.verify(expiring.secret)).ok).toBe(true);
    clock = new Date(clock.getTime() + 60_000);
    expect(await service.verify(expiring.secret)).toEqual({ ok: false, reason: 'expired' });
  });

  it('lists keys without revoked ones unless asked, per workspace', async () => {
    const a = await service.create({ name: 'team a', workspace: 'team-a' });
    const all = await service.list({ includeRevoked: true });
    const active = await service.list();
    expect(all.length).toBeGreaterThan(active.length);
    expect(active.every((k) => k.revokedAt === null)).toBe(true);
    expect((await service.list({ workspace: 'team-a' })).map((k) => k.id)).toEqual([a.key.id]);
  });

  it('refuses bad input and unknown ids', async () => {
    await expect(service.create({ name: '' })).rejects.toThrow(InvalidApiKeyInputError);
    await expect(service.create({ name: 'x', scopes: [] })).rejects.toThrow(
      InvalidApiKeyInputError,
    );
    await expect(
      service.create({ name: 'x', expiresAt: new Date(clock.getTime() - 1) }),
    ).rejects.toThrow(/not in the future/);
    await expect(service.revoke('0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60')).rejects.toThrow(
      ApiKeyNotFoundError,
    );
    await expect(service.revoke('not-a-uuid')).rejects.toThrow(ApiKeyNotFoundError);
  });

  it('writes lastUsedAt at most once a minute, across processes', async () => {
    const { key } = await service.create({ name: 'busy' });
    const other = new ApiKeyService(prisma, { now: () => clock });
    expect(await service.touch(key.id)).toBe(true);
    const firstUse = clock;
    expect(await service.touch(key.id)).toBe(false);
    // Another process (its own memory) is held back by the conditional UPDATE.
    expect(await other.touch(key.id)).toBe(false);
    clock = new Date(clock.getTime() + LAST_USED_INTERVAL_MS / 2);
    expect(await service.touch(key.id)).toBe(false);
    expect((await service.get(key.id)).lastUsedAt).toEqual(firstUse);
    clock = new Date(firstUse.getTime() + LAST_USED_INTERVAL_MS + 1);
    expect(await service.touch(key.id)).toBe(true);
    expect((await service.get(key.id)).lastUsedAt).toEqual(clock);
  });
});
