import { HttpException } from '@nestjs/common';
import { ApiKeyNotFoundError, InvalidApiKeyInputError } from '@strata/api-keys';
import { InvalidNameError } from '@strata/artifact-layout';
import { JobError, type InferErrorCode } from '@strata/cache-keys';
import {
  AliasConflictError,
  CacheInvalidationError,
  InvalidArtifactError,
  NotFoundError,
  S3StoreError,
  VersionExistsError,
  WorkspaceMismatchError,
} from '@strata/model-registry';
import { isTensorError } from '@strata/tensors';
import { GatewayError, messageOf } from './http-errors';

/** What an error answers: status, `{"error": message}`, maybe `Retry-After`. */
export interface HttpErrorAnswer {
  status: number;
  message: string;
  retryAfter?: number;
  /** Unexpected: log it with its stack. */
  unexpected?: boolean;
}

/** The gateway's answer to each failure code of an `infer` job (see @strata/cache-keys). */
export const JOB_ERROR_STATUS: { readonly [C in InferErrorCode]: number } = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

const REDIS_DOWN = [
  /Connection is closed/i,
  /enableOfflineQueue/i,
  /Reached the max retries per request limit/i,
  /connect ECONNREFUSED/i,
  /getaddrinfo/i,
];

function isRedisDown(err: Error): boolean {
  return err.name === 'MaxRetriesPerRequestError' || REDIS_DOWN.some((re) => re.test(err.message));
}

function isDatabaseDown(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'PrismaClientInitializationError' ||
    (typeof code === 'string' && /^(P1001|P1002|P1017|P2024|ECONNREFUSED|57P01)$/.test(code)) ||
    /Can't reach database server|connection terminated|timeout exceeded when trying to connect/i.test(
      err.message,
    )
  );
}

/** Maps any error to the HTTP answer the gateway gives for it. Never a 5xx for bad input. */
export function toHttpError(err: unknown): HttpErrorAnswer {
  if (err instanceof GatewayError) {
    return { status: err.status, message: err.message, retryAfter: err.retryAfter };
  }
  if (isTensorError(err)) return { status: err.status, message: err.message };
  if (err instanceof JobError) {
    const status = JOB_ERROR_STATUS[err.code];
    return {
      status,
      message: err.message,
      ...(status === 503 && { retryAfter: 1 }),
      ...(status === 500 && { unexpected: true }),
    };
  }
  if (err instanceof NotFoundError || err instanceof ApiKeyNotFoundError) {
    return { status: 404, message: err.message };
  }
  if (err instanceof InvalidNameError || err instanceof InvalidApiKeyInputError) {
    return { status: 400, message: err.message };
  }
  if (err instanceof InvalidArtifactError) return { status: 400, message: err.message };
  if (
    err instanceof AliasConflictError ||
    err instanceof VersionExistsError ||
    err instanceof WorkspaceMismatchError
  ) {
    return { status: 409, message: err.message };
  }
  if (err instanceof CacheInvalidationError) {
    return { status: 503, message: err.message, retryAfter: 1 };
  }
  if (err instanceof S3StoreError) {
    return {
      status: 503,
      message: `model artifacts cannot be read from S3 now: ${err.message}`,
      retryAfter: 5,
    };
  }
  if (err instanceof HttpException) {
    const body = err.getResponse();
    const message =
      typeof body === 'string'
        ? body
        : typeof (body as { message?: unknown }).message === 'string'
          ? (body as { message: string }).message
          : err.message;
    return { status: err.getStatus(), message };
  }
  if (err instanceof Error) {
    // Fastify's own errors (body too large, bad content type, bad JSON, multipart limits).
    const statusCode = (err as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return { status: statusCode, message: err.message };
    }
    if (isRedisDown(err)) {
      return { status: 503, message: `Redis is unavailable: ${err.message}`, retryAfter: 1 };
    }
    if (isDatabaseDown(err)) {
      return { status: 503, message: 'the database is unavailable', retryAfter: 1 };
    }
  }
  return { status: 500, message: `internal error: ${messageOf(err)}`, unexpected: true };
}
