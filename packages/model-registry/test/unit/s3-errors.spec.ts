import { classifyS3Error, S3StoreError } from '../../src/s3-errors';

// Plain objects shaped like what the AWS SDK throws: the classification is pure logic.
const sdk = (name: string, status?: number) =>
  Object.assign(new Error(`${name} message`), {
    name,
    $metadata: status === undefined ? {} : { httpStatusCode: status },
  });

describe('classifyS3Error', () => {
  it.each([
    [sdk('NoSuchKey', 404), 'no-such-key'],
    [sdk('NoSuchBucket', 404), 'no-such-bucket'],
    [sdk('AccessDenied', 403), 'access-denied'],
    [sdk('InvalidAccessKeyId', 403), 'access-denied'],
    [sdk('SignatureDoesNotMatch', 403), 'access-denied'],
    [sdk('Forbidden', 403), 'access-denied'],
    [sdk('InternalError', 500), 'server-error'],
    [sdk('SlowDown', 503), 'server-error'],
    [sdk('InvalidRange', 416), 'other'],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      'unreachable',
    ],
    [
      Object.assign(new Error('getaddrinfo ENOTFOUND s3.nowhere'), { code: 'ENOTFOUND' }),
      'unreachable',
    ],
    [Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'unreachable'],
    [new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9'), 'unreachable'],
    [
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed'),
      'unreachable',
    ],
    [new Error('something else'), 'other'],
  ])('%s → %s', (error, kind) => {
    expect(classifyS3Error(error).kind).toBe(kind);
  });

  it('a bodiless 404 is the key for keyed calls and the bucket otherwise', () => {
    expect(classifyS3Error(sdk('NotFound', 404)).kind).toBe('no-such-key');
    expect(classifyS3Error(sdk('NotFound', 404), { keyed: false }).kind).toBe('no-such-bucket');
  });

  it('the error names the operation, bucket, key and, when unreachable, the endpoint', () => {
    const e = new S3StoreError(
      'unreachable',
      'GetObject',
      'b',
      'k/x',
      'http://h:1',
      undefined,
      'ECONNREFUSED: no',
    );
    expect(e.message).toBe(
      'S3 GetObject of s3://b/k/x failed: S3 is unreachable at http://h:1 (ECONNREFUSED: no)',
    );
    const d = new S3StoreError(
      'access-denied',
      'HeadObject',
      'b',
      'k',
      'http://h:1',
      403,
      'AccessDenied, HTTP 403',
    );
    expect(d.message).toBe(
      'S3 HeadObject of s3://b/k failed: access denied (AccessDenied, HTTP 403)',
    );
  });
});
