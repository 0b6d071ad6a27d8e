import { createCipheriv } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import S3rver from 's3rver';

/** Credentials s3rver accepts (it checks no signature, but clients must sign with something). */
// Not frozen: the AWS SDK annotates the credentials object it is given.
export const EMBEDDED_S3_CREDENTIALS = {
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
};

export interface EmbeddedS3Options {
  /** Where objects are stored; created if missing, kept on stop. */
  directory: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Buckets that exist once the server answers (created if missing, kept if present). */
  buckets?: readonly string[];
  /** Log every request to the console (s3rver's own logger). Off by default. */
  verbose?: boolean;
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:PORT`, for the client's `endpoint` (with `forcePathStyle: true`). */
  readonly endpoint: string;
  readonly port: number;
  /**
   * Whether paginated listings work: s3rver encrypts continuation tokens with DES, which
   * OpenSSL 3 only offers with `--openssl-legacy-provider`.
   */
  readonly paginatedListings: boolean;
  /** Stops listening and closes open connections; stored objects stay on disk. */
  stop(): Promise<void>;
}

/** True when this process can use the legacy ciphers s3rver needs for paginated listings. */
export function hasLegacyCiphers(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Starts s3rver on 127.0.0.1, for local runs and tests only (see README for what it lacks). */
export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const buckets = options.buckets ?? [];
  for (const b of buckets) {
    if (!BUCKET.test(b)) throw new Error(`invalid bucket name ${JSON.stringify(b)}`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${String(port)}`);
  }
  const directory = path.resolve(options.directory);
  await mkdir(directory, { recursive: true });

  const server = new S3rver({
    address: '127.0.0.1',
    port,
    directory,
    silent: !options.verbose,
    // Path-style only: virtual-host buckets would need DNS names for 127.0.0.1.
    vhostBuckets: false,
    resetOnClose: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  const http = server.httpServer;
  let stopped: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    paginatedListings: hasLegacyCiphers(),
    stop() {
      stopped ??= (async () => {
        const closing = server.close();
        // Keep-alive sockets of SDK clients would hold close() open; in-flight requests get a
        // moment to finish first.
        http?.closeIdleConnections();
        const force = setTimeout(() => http?.closeAllConnections(), 2000);
        try {
          await closing;
        } finally {
          clearTimeout(force);
        }
      })();
      return stopped;
    },
  };
}
