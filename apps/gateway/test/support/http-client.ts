import * as http from 'node:http';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** The connection ended without an answer (a reset while the body was still being sent). */
class NoAnswerError extends Error {}

/**
 * A bounded HTTP request that also copes with the server answering before the body is sent
 * (413 on a large body): the answer is returned, the write error ignored. When the reset also
 * took the answer (the peer's kernel may drop it on RST), it fails with {@link NoAnswerError}
 * instead of waiting forever: a destroyed socket never times out.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    timeoutMs?: number;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let resetBy: Error | undefined;
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in time`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        resetBy = err; // the answer may still come
        return;
      }
      reject(err);
    });
    req.on('close', () => {
      if (!answered)
        reject(
          new NoAnswerError(
            `${url}: the connection closed without an answer (${resetBy?.message})`,
          ),
        );
    });
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

export function jsonPost(url: string, key: string | undefined, body: unknown): Promise<Answer> {
  return request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key && { authorization: `Bearer ${key}` }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
