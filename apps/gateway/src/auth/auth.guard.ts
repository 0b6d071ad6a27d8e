import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyScope } from '@strata/api-keys';
import { HealthController, MetricsController } from '@strata/service-kit';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../http/http-errors';
import { requestState } from '../http/request-context';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { ApiKeyAuthService } from './api-key-auth.service';
import { PUBLIC_ROUTE, REQUIRED_SCOPE } from './auth.decorators';

// /healthz, /readyz and /metrics come from @strata/service-kit: open, like /v2/health/*.
const OPEN_CONTROLLERS: ReadonlySet<unknown> = new Set([HealthController, MetricsController]);

const REFUSALS = {
  malformed: 'the API key is not a valid key',
  unknown: 'the API key is not valid',
  revoked: 'the API key was revoked',
  expired: 'the API key has expired',
} as const;

/** `Authorization: Bearer KEY` (or `Basic`-free raw `KEY`), else `?api_key=KEY`. */
export function extractApiKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : header.trim();
  }
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.api_key;
  if (typeof fromQuery === 'string' && fromQuery.length > 0) return fromQuery;
  return undefined;
}

/**
 * Every route needs a valid API key with the `infer` scope unless it says otherwise
 * (`@RequireScope('admin')`, `@Public()`): 401 without a valid key (missing, unknown, expired,
 * revoked), 403 with a valid key that lacks the scope.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: ApiKeyAuthService,
    private readonly metrics: GatewayMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (OPEN_CONTROLLERS.has(context.getClass())) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const scope = this.reflector.getAllAndOverride<ApiKeyScope>(REQUIRED_SCOPE, targets) ?? 'infer';
    const request = context.switchToHttp().getRequest<FastifyRequest>();

    const secret = extractApiKey(request);
    if (!secret) {
      this.metrics.authFailures.inc({ reason: 'missing' });
      throw new UnauthorizedError(
        'an API key is required: send "Authorization: Bearer KEY" or ?api_key=KEY',
      );
    }
    const result = await this.auth.authenticate(secret);
    if (!result.ok) {
      this.metrics.authFailures.inc({ reason: result.reason });
      throw new UnauthorizedError(REFUSALS[result.reason]);
    }
    if (!result.key.scopes.includes(scope)) {
      this.metrics.authFailures.inc({ reason: 'scope' });
      throw new ForbiddenError(
        `this endpoint needs an API key with the "${scope}" scope; this key has ${result.key.scopes.join(', ')}`,
      );
    }
    requestState(request).apiKey = result.key;
    return true;
  }
}
