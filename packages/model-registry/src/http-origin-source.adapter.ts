import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ARTIFACT_FILES, validateArtifactFileName } from '@strata/artifact-layout';
import { describeCause, RegistryError } from './errors';

export type OriginErrorKind =
  'invalid-url' | 'unreachable' | 'timeout' | 'not-found' | 'http-status';

export class OriginFetchError extends RegistryError {
  constructor(
    readonly kind: OriginErrorKind,
    readonly url: string,
    readonly status: number | undefined,
    detail: string,
    cause?: unknown,
  ) {
    super(`HTTP origin GET ${url} failed: ${detail}`, { cause });
  }
}

export interface HttpOriginSourceOptions {
  /** Until the response headers arrive (default 10 s). */
  headersTimeoutMs?: number;
  /** Longest pause between two body chunks before the download is aborted (default 30 s). */
  idleTimeoutMs?: number;
  /** Injected for tests of other runtimes; default the global `fetch`. */
  fetch?: typeof fetch;
}

export interface OriginStream {
  body: Readable;
  /** From Content-Length, when the origin sent one. */
  contentLength: number | undefined;
  etag: string | undefined;
  url: string;
}

/** Validates an origin base URL (http or https, no query or fragment); returns it without a trailing '/'. */
export function normalizeOriginUrl(originUrl: string): string {
  let url: URL;
  try {
    url = new URL(originUrl);
  } catch {
    throw new OriginFetchError('invalid-url', originUrl, undefined, 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OriginFetchError(
      'invalid-url',
      originUrl,
      undefined,
      `only http: and https: are supported, not ${url.protocol}`,
    );
  if (url.search || url.hash)
    throw new OriginFetchError(
      'invalid-url',
      originUrl,
      undefined,
      'must not have a query or fragment (file names are appended to it)',
    );
  return url.toString().replace(/\/+$/, '');
}

/** `${originUrl}/${file}`, with the file name validated like an S3 key's. */
export function originFileUrl(originUrl: string, file: string): string {
  const name = file === ARTIFACT_FILES.manifest ? file : validateArtifactFileName(file);
  return `${normalizeOriginUrl(originUrl)}/${encodeURIComponent(name)}`;
}

/**
 * The registry's HTTP origin URL of a version, the model-loader's fallback when S3 fails: plain
 * GETs of `${originUrl}/${file}`, streamed, with a timeout for the headers and an idle timeout
 * for the body (a large file may take long, a stalled one may not).
 */
export class HttpOriginSource {
  private readonly headersTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpOriginSourceOptions = {}) {
    this.headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async getStream(
    originUrl: string,
    file: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<OriginStream> {
    const url = originFileUrl(originUrl, file);
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const headersTimer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.headersTimeoutMs);

    let response: Response;
    try {
      response = await this.fetchImpl(url, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      options.signal?.removeEventListener('abort', onAbort);
      if (timedOut)
        throw new OriginFetchError(
          'timeout',
          url,
          undefined,
          `no response within ${this.headersTimeoutMs} ms`,
          error,
        );
      throw new OriginFetchError(
        'unreachable',
        url,
        undefined,
        describeCause((error as { cause?: unknown }).cause ?? error),
        error,
      );
    } finally {
      clearTimeout(headersTimer);
    }

    if (!response.ok || !response.body) {
      options.signal?.removeEventListener('abort', onAbort);
      await response.body?.cancel().catch(() => undefined);
      throw new OriginFetchError(
        response.status === 404 ? 'not-found' : 'http-status',
        url,
        response.status,
        `HTTP ${response.status} ${response.statusText}`.trim(),
      );
    }

    const length = response.headers.get('content-length');
    const idleTimeoutMs = this.idleTimeoutMs;
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, idleTimeoutMs);
    };
    const source = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
    // Turns an abort into an error that says what happened, and re-arms the idle timer per chunk.
    const body = new Transform({
      transform(chunk, _enc, done) {
        armIdle();
        done(null, chunk);
      },
    });
    const finish = () => {
      clearTimeout(idleTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    source.on('error', (error) => {
      finish();
      body.destroy(
        timedOut
          ? new OriginFetchError(
              'timeout',
              url,
              response.status,
              `no data for ${idleTimeoutMs} ms`,
              error,
            )
          : new OriginFetchError(
              'unreachable',
              url,
              response.status,
              `body interrupted: ${describeCause(error)}`,
              error,
            ),
      );
    });
    body.on('end', finish);
    // A consumer that stops early (destroy) must not leave the download running.
    body.on('close', () => {
      finish();
      if (!source.readableEnded) {
        source.destroy();
        controller.abort();
      }
    });
    armIdle();
    source.pipe(body);
    return {
      body,
      contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
      etag: response.headers.get('etag') ?? undefined,
      url,
    };
  }
}
