// The built CLI as a child process against a throwaway Postgres schema.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ApiKeyService, hashSecret } from '@strata/api-keys';
import { createPrismaClient, type PrismaClient } from '@strata/db';
import { createTestDatabase, type TestDatabase } from '@strata/testing';

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

  beforeAll(async () => {
    db = await createTestDatabase('clikeys');
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
    // keys commands need only Postgres; the cli's configuration also asks for a bucket name.
    env = { DATABASE_URL: db.url, S3_BUCKET: 'unused-bucket' };
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.drop();
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

  it('revoking an unknown id fails with exit 1 and one message', async () => {
    const run = await strata(['keys', 'revoke', '0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('strata: Unknown API key "0b8e7a55-2f0c-4c53-9f0e-1b2c3d4e5f60"\n');
  });
});
