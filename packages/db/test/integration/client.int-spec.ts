import { createPrismaClient, pingDatabase } from '../../src/client';
import { ApiKeyScope, ModelVersionStatus, Prisma, type PrismaClient } from '../../src/index';
import { migrate } from '../../src/migrate';
import { freshSchema, withClient } from './test-database';

describe('createPrismaClient', () => {
  const db = freshSchema();
  let prisma: PrismaClient;

  beforeAll(async () => {
    await migrate({ databaseUrl: db.url });
    prisma = createPrismaClient({ databaseUrl: db.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await db.drop();
  });

  it('round-trips rows in the schema of the URL', async () => {
    const workspace = await prisma.workspace.create({ data: { name: 'acme' } });
    const model = await prisma.model.create({
      data: { workspaceId: workspace.id, name: 'resnet', taskType: 'classification' },
    });
    await prisma.modelVersion.create({
      data: {
        modelId: model.id,
        version: 1,
        storagePrefix: 'strata/models/resnet/1/',
        manifestDigest: 'a'.repeat(64),
        status: ModelVersionStatus.ready,
        sizeBytes: 5_000_000_000n,
        metadata: { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 224, 224] }] },
      },
    });
    await prisma.modelAlias.create({ data: { modelId: model.id, alias: 'prod', version: 1 } });
    await prisma.apiKey.create({
      data: {
        workspaceId: workspace.id,
        name: 'ci',
        secretHash: 'b'.repeat(64),
        prefix: 'sk_abcd',
        scopes: [ApiKeyScope.infer, ApiKeyScope.admin],
      },
    });

    const alias = await prisma.modelAlias.findUniqueOrThrow({
      where: { modelId_alias: { modelId: model.id, alias: 'prod' } },
      include: { modelVersion: true },
    });
    expect(alias.modelVersion).toMatchObject({
      version: 1,
      sizeBytes: 5_000_000_000n,
      status: 'ready',
    });
    expect(alias.modelVersion.metadata).toEqual({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 224, 224] }],
    });
    const key = await prisma.apiKey.findUniqueOrThrow({ where: { secretHash: 'b'.repeat(64) } });
    expect(key.scopes).toEqual(['infer', 'admin']);
    expect(key.rateLimit).toBeNull();

    // The row is in the test schema, not in public.
    const count = await withClient(async (client) => {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${db.schema}"."workspaces" WHERE name = 'acme'`,
      );
      return rows[0]!.n;
    });
    expect(count).toBe(1);
  });

  it('enforces that an alias points at a version of its own model', async () => {
    const ws = await prisma.workspace.create({ data: { name: 'fk-check' } });
    const model = await prisma.model.create({
      data: { workspaceId: ws.id, name: 'm', taskType: 'object-detection' },
    });
    const error = await prisma.modelAlias
      .create({ data: { modelId: model.id, alias: 'latest', version: 7 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  });

  it('keeps usage rows unique per idempotency key', async () => {
    const row = {
      idempotencyKey: 'k1',
      apiKeyHash: 'c'.repeat(64),
      workspace: '00000000-0000-4000-8000-000000000000',
      model: 'resnet',
      version: 1,
      category: 'infer',
      windowStart: new Date('2026-01-01T00:00:00Z'),
      windowEnd: new Date('2026-01-01T00:00:10Z'),
      requests: 3,
      startedAt: new Date('2026-01-01T00:00:01Z'),
      stoppedAt: new Date('2026-01-01T00:00:09Z'),
    };
    await prisma.usageAggregate.create({ data: row });
    const again = await prisma.usageAggregate.createMany({ data: [row], skipDuplicates: true });
    expect(again.count).toBe(0);
    const pending = await prisma.usageAggregate.findMany({
      where: { status: 'pending', nextAttemptAt: { lte: new Date() } },
    });
    expect(pending).toHaveLength(1);
  });

  it('pingDatabase answers ok with a latency', async () => {
    const result = await pingDatabase(prisma);
    expect(result.ok).toBe(true);
  });

  it('pingDatabase reports a database that is not there without throwing', async () => {
    const down = createPrismaClient({
      databaseUrl: 'postgresql://postgres@127.0.0.1:1/postgres?schema=x',
      connectionTimeoutMs: 500,
    });
    try {
      const result = await pingDatabase(down, 2000);
      expect(result.ok).toBe(false);
    } finally {
      await down.$disconnect();
    }
  });
});
