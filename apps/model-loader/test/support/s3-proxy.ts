import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

/**
 * A loopback HTTP proxy in front of s3rver (or any origin) that counts the requests it saw, can
 * slow responses down, and can answer a chosen path with an error instead of forwarding.
 */
export interface CountingProxy {
  readonly endpoint: string;
  /** Requests seen, as `METHOD path` (path without the query string). */
  readonly requests: readonly string[];
  count(method: string, pathSuffix: string): number;
  reset(): void;
  /** Bytes per second for response bodies; 0 = unthrottled. */
  throttle(bytesPerSecond: number): void;
  /** Answer requests whose path ends with `pathSuffix` with `status` (null removes the rule). */
  fail(pathSuffix: string, status: number | null): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const failures = new Map<string, number>();
  let rate = 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push(`${req.method} ${path}`);
    for (const [suffix, status] of failures)
      if (path.endsWith(suffix)) {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`,
        );
        req.resume();
        return;
      }
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (rate > 0) up.pipe(throttled(() => rate)).pipe(res);
        else up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    count: (method, suffix) =>
      requests.filter((r) => r.startsWith(`${method} `) && r.endsWith(suffix)).length,
    reset: () => void requests.splice(0),
    throttle: (bps) => void (rate = bps),
    fail: (suffix, status) =>
      void (status === null ? failures.delete(suffix) : failures.set(suffix, status)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function throttled(rate: () => number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const bps = rate();
      if (bps <= 0) return done(null, chunk);
      const slice = 64 * 1024;
      const push = async () => {
        for (let i = 0; i < chunk.length; i += slice) {
          this.push(chunk.subarray(i, i + slice));
          await new Promise((r) => setTimeout(r, (slice / bps) * 1000));
        }
        done();
      };
      void push();
    },
  });
}
