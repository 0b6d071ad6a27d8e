import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiKeyService, parseExpiry, type ApiKeyRecord, type ApiKeyScope } from '@strata/api-keys';
import { ApiKeyAuthService } from '../auth/api-key-auth.service';
import { RequireScope } from '../auth/auth.decorators';
import { BadRequestError } from '../http/http-errors';

export function keyJson(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    workspace: k.workspace,
    prefix: k.prefix,
    scopes: k.scopes,
    rate_limit: k.rateLimit,
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
  };
}

interface CreateKeyBody {
  name?: unknown;
  scopes?: unknown;
  workspace?: unknown;
  expires_at?: unknown;
  expires_in?: unknown;
  /** Requests per RATE_LIMIT_WINDOW; 0 = unlimited; absent/null = RATE_LIMIT_DEFAULT. */
  rate_limit?: unknown;
}

/** API keys: create (the secret is in this answer only), list, revoke. */
@RequireScope('admin')
@Controller('admin/keys')
export class AdminKeysController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly auth: ApiKeyAuthService,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@Body() body: CreateKeyBody | undefined) {
    if (typeof body !== 'object' || body === null || Buffer.isBuffer(body)) {
      throw new BadRequestError('the body must be a JSON object with at least "name"');
    }
    if (body.expires_at !== undefined && body.expires_in !== undefined) {
      throw new BadRequestError('give expires_at or expires_in, not both');
    }
    if (body.workspace !== undefined && typeof body.workspace !== 'string') {
      throw new BadRequestError('workspace must be a string');
    }
    const expiry = body.expires_at ?? body.expires_in;
    const { key, secret } = await this.keys.create({
      name: body.name as string,
      scopes: body.scopes === undefined ? undefined : (body.scopes as ApiKeyScope[]),
      workspace: body.workspace,
      expiresAt: expiry === undefined || expiry === null ? null : parseExpiry(expiry),
      rateLimit: body.rate_limit as number | undefined,
    });
    return { ...keyJson(key), secret };
  }

  @Get()
  async list(
    @Query('workspace') workspace?: string,
    @Query('include_revoked') includeRevoked?: string,
  ) {
    const keys = await this.keys.list({
      workspace: workspace || undefined,
      includeRevoked: includeRevoked === 'true' || includeRevoked === '1',
    });
    return { keys: keys.map(keyJson) };
  }

  @Delete(':id')
  async revoke(@Param('id') id: string) {
    // The service replaces the key's Redis entry with `revoked` and broadcasts `key-revoked`:
    // every gateway drops it at once. This one drops it here too, in case Redis is away.
    const result = await this.keys.revoke(id);
    this.auth.forget(result.keyHash);
    return {
      ...keyJson(result.key),
      already_revoked: result.alreadyRevoked,
      // false: other gateways refuse it only when their caches expire (Redis unreachable).
      broadcast: result.eventsPublished,
    };
  }
}
