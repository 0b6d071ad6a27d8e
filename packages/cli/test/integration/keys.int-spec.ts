// The built CLI as a child process against a throwaway Postgres schema.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ApiKeyService, hashSecret, parseApiKeyEvent, type ApiKeyEvent } from '@strata/api-keys';
import { RedisKeys } from '@strata/cache-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import {
  createTestDatabase,
  deleteRedisPrefix,
  testRedisClient,
  testRedisEnv,
  testRedisPrefix,
  waitFor,
  type TestDatabase,
} from '@strata/testing';

const CLI_MAIN = path.resolve(__dirname, '../../dist/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function strata(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('strata keys (built CLI, Postgres)', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let env: Record<string, string>;
  const prefix = testRedisPrefix('clikeys');

  beforeAll(async () => {
    db = await createTestDatabase('clikeys');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
    // keys commands need Postgres (and Redis for revocation broadcasts); the cli's
    // configuration also asks for a bucket name.
    env = {
      DATABASE_URL: db.url,
      S3_BUCKET: 'unused-bucket',
      ...testRedisEnv(),
      REDIS_KEY_PREFIX: prefix,
    };
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('create prints the secret once and stores only its sha256', async () => {
    const run = await strata(
      ['keys', 'create', '--name', 'ci', '--scopes', 'infer,admin', '--json'],
      env,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as {
      id: string;
      secret: string;
      scopes: string[];
      prefix: string;
    };
    expect(created.secret).toMatch(/^sk_[0-9A-Za-z]{32}$/);
    expect(created.scopes).toEqual(['infer', 'admin']);
    const row = await prisma.apiKey.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.secretHash).toBe(hashSecret(created.secret));
    expect(created.secret.startsWith(row.prefix)).toBe(true);
    const verified = await new ApiKeyService(prisma).verify(created.secret);
    expect(verified.ok).toBe(true);

    const text = await strata(['keys', 'create', '--name', 'readable', '--expires', '30d'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^Created API key [0-9a-f-]{36} \(readable; scopes infer; workspace default; expires /,
    );
    expect(text.stdout).toMatch(
      /Secret \(shown only now; only its sha256 is stored\): sk_[0-9A-Za-z]{32}\n$/,
    );
  });

  it('list shows keys without secrets; revoke refuses the key afterwards', async () => {
    const created = JSON.parse(
      (await strata(['keys', 'create', '--name', 'to-revoke', '--json'], env)).stdout,
    ) as { id: string; secret: string };
    const listed = await strata(['keys', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+PREFIX\s+NAME\s+WORKSPACE\s+SCOPES\s+STATUS/);
    expect(listed.stdout).toContain(created.id);
    expect(listed.stdout).not.toContain(created.secret);

    const revoked = await strata(['keys', 'revoke', created.id], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^Revoked API key /);
    expect(await new ApiKeyService(prisma).verify(created.secret)).toEqual({
      ok: false,
      reason: 'revoked',
    });
    expect((await strata(['keys', 'revoke', created.id], env)).stdout).toMatch(/already revoked/);

    const active = JSON.parse((await strata(['keys', 'list', '--json'], env)).stdout) as {
      id: string;
    }[];
    expect(active.map((k) => k.id)).not.toContain(created.id);
    const all = JSON.parse((await strata(['keys', 'list', '--all', '--json'], env)).stdout) as {
      id: string;
      revokedAt: string | null;
    }[];
    expect(all.find((k) => k.id === created.id)?.revokedAt).toEqual(expect.any(String));
  });

  it('revoke replaces the Redis verification with `revoked` and broadcasts key-revoked', async () => {
    const keys = new RedisKeys(prefix);
    const created = JSON.parse(
      (await strata(['keys', 'create', '--name', 'broadcast', '--json'], env)).stdout,
    ) as { id: string; secret: string };
    const hash = hashSecret(created.secret);
    const redis = testRedisClient();
    const sub = testRedisClient();
    const got: ApiKeyEvent[] = [];
    try {
      // A gateway had cached the key as valid.
      await redis.set(keys.auth(hash), '{"v":1,"k":{}}', 'EX', 60);
      // Subscribing before the ready check ran makes ioredis fail that check (subscriber mode)
      // and reconnect, dropping messages meanwhile.
      if (sub.status !== 'ready') await new Promise((resolve) => sub.once('ready', resolve));
      await sub.subscribe(keys.eventsChannel());
      sub.on('message', (_c, m: string) => {
        const event = parseApiKeyEvent(m);
        if (event) got.push(event);
      });
      const run = await strata(['keys', 'revoke', created.id, '--json'], env);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toMatchObject({ alreadyRevoked: false, broadcast: true });
      expect(JSON.parse((await redis.get(keys.auth(hash))) ?? 'null')).toEqual({
        v: 1,
        r: 'revoked',
      });
      expect(await redis.ttl(keys.auth(hash))).toBeGreaterThan(60);
      await waitFor(() => got.length > 0, { timeoutMs: 5000, what: 'the key-revoked event' });
      expect(got).toEqual([{ type: 'key-revoked', keyHash: hash }]);

      // Without Redis the revocation stands; the command says it was not broadcast.
      const { REDIS_CLUSTER_NODES: _nodes, ...standalone } = env;
      const again = await strata(['keys', 'revoke', created.id], {
        ...standalone,
        REDIS_URL: 'redis://127.0.0.1:1',
      });
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/already revoked; gateways refuse it when their caches expire/);
      expect(again.stderr).toMatch(/warning: Could not broadcast the revocation/);
    } finally {
      redis.disconnect();
      sub.disconnect();
    }
  });

  it('create --rate-limit stores the key its own limit; list shows it', async () => {
    const limited = JSON.parse(
      (await strata(['keys', 'create', '--name', 'limited', '--rate-limit', '25', '--json'], env))
        .stdout,
    ) as { id: string; secret: string; rateLimit: number | null };
    expect(limited.rateLimit).toBe(25);
    const unlimited = await strata(['keys', 'create', '--name', 'free', '--rate-limit', '0'], env);
    expect(unlimited.code).toBe(0);
    expect(unlimited.stdout).toMatch(/; rate limit unlimited\)/);
    const verified = await new ApiKeyService(prisma).verify(limited.secret);
    expect(verified.ok && verified.key.rateLimit).toBe(25);
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: limited.id } })).rateLimit).toBe(
      25,
    );

    const listed = await strata(['keys', 'list'], env);
    expect(listed.stdout).toMatch(/STATUS\s+RATE LIMIT\s+EXPIRES/);
    const row = (name: string) =>
      listed.stdout.split('\n').find((line) => line.includes(` ${name} `)) ?? '';
    expect(row('limited')).toMatch(/ active\s+25\/window /);
    expect(row('free')).toMatch(/ active\s+unlimited /);
    expect(row('ci')).toMatch(/ active\s+default /);
    const json = JSON.parse((await strata(['keys', 'list', '--json'], env)).stdout) as {
      name: string;
      rateLimit: number | null;
    }[];
    expect(json.find((k) => k.name === 'limited')?.rateLimit).toBe(25);
    expect(json.find((k) => k.name === 'ci')?.rateLimit).toBeNull();
  });

  it('revoking an unknown id fails with exit 1 and one message', async () => {
    const run = await strata(['keys', 'revoke', '0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('strata: Unknown API key "0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60"\n');
  });
});
