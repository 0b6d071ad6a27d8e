import { NotFoundException } from '@nestjs/common';
import { ApiKeyNotFoundError, InvalidApiKeyInputError } from '@strata/api-keys';
import { InvalidNameError } from '@strata/artifact-layout';
import { JobError, decodeJobFailure, encodeJobFailure } from '@strata/cache-keys';
import {
  AliasConflictError,
  ModelNotFoundError,
  S3StoreError,
  VersionNotFoundError,
} from '@strata/model-registry';
import { TensorError } from '@strata/tensors';
import { toHttpError } from '../../src/http/error-mapping';
import { GatewayTimeoutError, UnavailableError } from '../../src/http/http-errors';

describe('toHttpError', () => {
  it('keeps the meaning of worker failures', () => {
    const cases = [
      ['INVALID_INPUT', 400],
      ['NOT_FOUND', 404],
      ['UNAVAILABLE', 503],
      ['TIMEOUT', 504],
      ['INTERNAL', 500],
    ] as const;
    for (const [code, status] of cases) {
      const answer = toHttpError(decodeJobFailure(encodeJobFailure(code, `boom ${code}`)));
      expect([code, answer.status, answer.message]).toEqual([code, status, `boom ${code}`]);
    }
    expect(toHttpError(new JobError('UNAVAILABLE', 'x')).retryAfter).toBe(1);
    // A BullMQ reason a worker did not encode is INTERNAL.
    expect(toHttpError(decodeJobFailure('job stalled more than allowable limit')).status).toBe(500);
  });

  it('maps bad input to 4xx, never 5xx', () => {
    expect(toHttpError(new TensorError('bad', 400)).status).toBe(400);
    expect(toHttpError(new TensorError('big', 413)).status).toBe(413);
    expect(toHttpError(new ModelNotFoundError('m'))).toEqual({
      status: 404,
      message: 'Unknown model "m"',
    });
    expect(toHttpError(new VersionNotFoundError('m', 3)).status).toBe(404);
    expect(toHttpError(new InvalidNameError('model name', 'X', 'upper', 'lower')).status).toBe(400);
    expect(toHttpError(new AliasConflictError('taken')).status).toBe(409);
    expect(toHttpError(new ApiKeyNotFoundError('k')).status).toBe(404);
    expect(toHttpError(new InvalidApiKeyInputError('n')).status).toBe(400);
    expect(
      toHttpError(Object.assign(new Error('Request body is too large'), { statusCode: 413 }))
        .status,
    ).toBe(413);
    expect(toHttpError(new NotFoundException('Cannot GET /x'))).toEqual({
      status: 404,
      message: 'Cannot GET /x',
    });
  });

  it('answers 503 with Retry-After when a dependency is down, 504 on timeouts', () => {
    expect(toHttpError(new UnavailableError('full', 2))).toEqual({
      status: 503,
      message: 'full',
      retryAfter: 2,
    });
    expect(
      toHttpError(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
    ).toMatchObject({
      status: 503,
      retryAfter: 1,
    });
    expect(
      toHttpError(Object.assign(new Error('x'), { name: 'PrismaClientInitializationError' }))
        .status,
    ).toBe(503);
    const s3 = new S3StoreError(
      'unreachable',
      'GetObject',
      'b',
      'k',
      'http://s3',
      undefined,
      'refused',
      undefined,
    );
    expect(toHttpError(s3).status).toBe(503);
    expect(toHttpError(new GatewayTimeoutError('late')).status).toBe(504);
  });

  it('treats anything else as an unexpected 500', () => {
    expect(toHttpError(new TypeError('oops'))).toEqual({
      status: 500,
      message: 'internal error: oops',
      unexpected: true,
    });
  });
});
