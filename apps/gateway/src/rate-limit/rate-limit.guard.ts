import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../http/http-errors';
import { requestState } from '../http/request-context';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { rateLimitHeaders } from './rate-limit-headers';
import { RateLimitService } from './rate-limit.service';

/** 429: the key used its quota; `retryAfter` is sent as Retry-After. */
export class RateLimitedError extends GatewayError {
  constructor(message: string, retryAfter: number) {
    super(429, message, retryAfter);
  }
}

/**
 * Counts every request made with an API key against the key's limit (its own `rateLimit`, else
 * RATE_LIMIT_DEFAULT) and refuses those over it with 429. Registered as an APP_GUARD after the
 * AuthGuard (global guards run in registration order), so it sees the verified key; routes
 * without one (/healthz, /readyz, /metrics, /v2/health/*) are never counted. Limited requests
 * carry the RateLimit headers whatever their answer; the headers set here survive the error
 * filter, which only adds to the reply.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limits: RateLimitService,
    private readonly metrics: GatewayMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const key = requestState(http.getRequest<FastifyRequest>()).apiKey;
    if (!key) return true;
    const limit = this.limits.limitFor(key.rateLimit);
    if (limit === undefined) return true;

    const decision = await this.limits.hit(key.keyHash, limit);
    http.getResponse<FastifyReply>().headers(rateLimitHeaders(decision));
    if (decision.allowed) return true;
    this.metrics.rejected.inc({ reason: 'rate_limit' });
    const retryAfter = decision.retryAfterSeconds ?? 1;
    throw new RateLimitedError(
      `rate limit exceeded: this API key may make ${limit} requests per ${decision.windowSeconds} s; retry in ${retryAfter} s`,
      retryAfter,
    );
  }
}
