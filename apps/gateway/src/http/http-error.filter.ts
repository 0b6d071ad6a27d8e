import {
  Catch,
  HttpException,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { STRATA_LOGGER } from '@strata/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { toHttpError } from './error-mapping';

/**
 * Every error leaves the gateway as `{"error": "..."}` with the status its type stands for
 * (error-mapping.ts), plus `Retry-After` on 503. Unexpected errors are logged with their stack.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(STRATA_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    if (reply.sent) return;
    // /healthz and /readyz (@strata/service-kit) keep their own answer shape (`failing`, `checks`).
    const path = request?.url?.split('?')[0];
    if (exception instanceof HttpException && (path === '/healthz' || path === '/readyz')) {
      void reply.status(exception.getStatus()).send(exception.getResponse());
      return;
    }
    const answer = toHttpError(exception);
    if (answer.unexpected) {
      this.logger.error(
        { err: exception, method: request?.method, route: request?.routeOptions?.url },
        `request failed: ${answer.message}`,
      );
    }
    if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter));
    void reply
      .status(answer.status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ error: answer.message }));
  }
}
