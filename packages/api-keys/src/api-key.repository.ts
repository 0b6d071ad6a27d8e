import { validateWorkspace } from '@strata/artifact-layout';
import { Prisma, type PrismaClient } from '@strata/db';
import type { ApiKeyRecord, ApiKeyScope } from './types';

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  scopes: string[];
  rateLimit: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
  workspace: { name: string };
}

export interface StoredApiKey extends ApiKeyRecord {
  secretHash: string;
}

function toRecord(row: ApiKeyRow): StoredApiKey {
  return {
    id: row.id,
    name: row.name,
    workspace: row.workspace.name,
    prefix: row.prefix.trim(),
    secretHash: row.secretHash.trim(),
    scopes: row.scopes as ApiKeyScope[],
    rateLimit: row.rateLimit,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
    createdAt: row.createdAt,
  };
}

const WITH_WORKSPACE = { workspace: { select: { name: true } } } as const;

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/** The `api_keys` table. Only the sha256 of a secret is ever written. */
export class ApiKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  private async workspaceId(name: string): Promise<string> {
    validateWorkspace(name);
    const found = await this.prisma.workspace.findUnique({ where: { name } });
    if (found) return found.id;
    try {
      return (await this.prisma.workspace.create({ data: { name } })).id;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return (await this.prisma.workspace.findUniqueOrThrow({ where: { name } })).id;
    }
  }

  async insert(input: {
    name: string;
    workspace: string;
    secretHash: string;
    prefix: string;
    scopes: ApiKeyScope[];
    expiresAt: Date | null;
    rateLimit: number | null;
  }): Promise<StoredApiKey> {
    const workspaceId = await this.workspaceId(input.workspace);
    const row = await this.prisma.apiKey.create({
      data: {
        workspaceId,
        name: input.name,
        secretHash: input.secretHash,
        prefix: input.prefix,
        scopes: input.scopes,
        expiresAt: input.expiresAt,
        rateLimit: input.rateLimit,
      },
      include: WITH_WORKSPACE,
    });
    return toRecord(row);
  }

  async findByHash(secretHash: string): Promise<StoredApiKey | null> {
    const row = await this.prisma.apiKey.findUnique({
      where: { secretHash },
      include: WITH_WORKSPACE,
    });
    return row ? toRecord(row) : null;
  }

  async findById(id: string): Promise<StoredApiKey | null> {
    const row = await this.prisma.apiKey.findUnique({ where: { id }, include: WITH_WORKSPACE });
    return row ? toRecord(row) : null;
  }

  /** Newest first. */
  async list(options: { workspace?: string; includeRevoked?: boolean }): Promise<StoredApiKey[]> {
    const where: Prisma.ApiKeyWhereInput = {};
    if (options.workspace !== undefined)
      where.workspace = { name: validateWorkspace(options.workspace) };
    if (!options.includeRevoked) where.revokedAt = null;
    const rows = await this.prisma.apiKey.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      include: WITH_WORKSPACE,
    });
    return rows.map(toRecord);
  }

  /** Sets `revokedAt` unless already set; returns whether this call revoked it. */
  async markRevoked(id: string, at: Date): Promise<boolean> {
    const { count } = await this.prisma.apiKey.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: at },
    });
    return count === 1;
  }

  /**
   * Sets `lastUsedAt` to `at` only if it is unset or older than `notAfter`: the condition in the
   * UPDATE keeps many gateways from writing the same row more than once per interval.
   */
  async touchLastUsed(id: string, at: Date, notAfter: Date): Promise<boolean> {
    const { count } = await this.prisma.apiKey.updateMany({
      where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: notAfter } }] },
      data: { lastUsedAt: at },
    });
    return count === 1;
  }
}
