/**
 * The errors the gateway's own code throws. Each carries the HTTP status it answers with and a
 * message fit for the caller (`{"error": message}`); http-error.filter.ts maps them, and the
 * typed errors of the packages (TensorError, registry errors, JobError), to responses.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds, sent as `Retry-After` (503, 429). */
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends GatewayError {
  constructor(message: string) {
    super(400, message);
  }
}

export class UnauthorizedError extends GatewayError {
  constructor(message: string) {
    super(401, message);
  }
}

export class ForbiddenError extends GatewayError {
  constructor(message: string) {
    super(403, message);
  }
}

export class NotFoundHttpError extends GatewayError {
  constructor(message: string) {
    super(404, message);
  }
}

export class ConflictError extends GatewayError {
  constructor(message: string) {
    super(409, message);
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(message: string) {
    super(413, message);
  }
}

/** 503 with Retry-After: overloaded, or a dependency (Redis, Postgres, S3) is down. */
export class UnavailableError extends GatewayError {
  constructor(message: string, retryAfter = 1, options?: { cause?: unknown }) {
    super(503, message, retryAfter, options);
  }
}

export class GatewayTimeoutError extends GatewayError {
  constructor(message: string) {
    super(504, message);
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
