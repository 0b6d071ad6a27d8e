import { RegistryError } from './errors';

/**
 * What went wrong talking to S3, coarse enough to act on: `unreachable` (retry later, check the
 * endpoint), `no-such-key` / `no-such-bucket` (the thing is not there), `access-denied`
 * (credentials or policy), `server-error` (5xx after retries), `other`.
 */
export type S3ErrorKind =
  'unreachable' | 'no-such-key' | 'no-such-bucket' | 'access-denied' | 'server-error' | 'other';

export class S3StoreError extends RegistryError {
  constructor(
    readonly kind: S3ErrorKind,
    readonly operation: string,
    readonly bucket: string,
    readonly key: string | undefined,
    readonly endpoint: string,
    readonly statusCode: number | undefined,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(
      `S3 ${operation} of s3://${bucket}/${key ?? ''} failed: ${KIND_TEXT[kind]}${
        kind === 'unreachable' ? ` at ${endpoint}` : ''
      } (${detail})`,
      { cause },
    );
  }
}

const KIND_TEXT: Record<S3ErrorKind, string> = {
  unreachable: 'S3 is unreachable',
  'no-such-key': 'no such key',
  'no-such-bucket': 'no such bucket',
  'access-denied': 'access denied',
  'server-error': 'S3 server error',
  other: 'request refused',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

const ACCESS_NAMES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const e = error as SdkErrorShape & { cause?: unknown };
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return e.name;
  // The SDK re-wraps errors from another realm (a VM context, Jest) keeping only the message.
  const inMessage = e.message?.match(/\b(E[A-Z]{4,}|UND_ERR_SOCKET)\b/)?.[1];
  if (inMessage && NETWORK_CODES.has(inMessage)) return inMessage;
  // AggregateError (happy eyeballs) and wrapped causes.
  for (const inner of e.errors ?? []) {
    const c = networkCode(inner, depth + 1);
    if (c) return c;
  }
  return networkCode(e.cause, depth + 1);
}

/** Sorts an SDK or network error into an {@link S3ErrorKind}. */
export function classifyS3Error(
  error: unknown,
  hint: { keyed: boolean } = { keyed: true },
): { kind: S3ErrorKind; status: number | undefined; detail: string } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const detail = status
    ? `${name}, HTTP ${status}${e.message && e.message !== name ? `: ${e.message}` : ''}`
    : `${networkCode(error) ?? name}: ${(e.message ?? String(error)).replace(/^AWS SDK error wrapper for (Error: )?/, '')}`;
  if (name === 'NoSuchBucket') return { kind: 'no-such-bucket', status, detail };
  if (name === 'NoSuchKey') return { kind: 'no-such-key', status, detail };
  if (ACCESS_NAMES.has(name) || status === 403) return { kind: 'access-denied', status, detail };
  // HEAD responses have no body, so a 404 carries no code: what is missing is what was asked for.
  if (status === 404 || name === 'NotFound')
    return { kind: hint.keyed ? 'no-such-key' : 'no-such-bucket', status, detail };
  if (status !== undefined && status >= 500) return { kind: 'server-error', status, detail };
  if (status === undefined && networkCode(error)) return { kind: 'unreachable', status, detail };
  return { kind: 'other', status, detail };
}
