import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the sink does with one request:
 * ok: stores the rows (deduplicated by idempotency key, as a real sink must), answers 200;
 * 500: answers 500 without storing; hang: reads the body, never answers (the sender times out);
 * store-then-hang: stores, never answers (the sender retries rows the sink already has);
 * reset: destroys the connection without answering.
 */
export type SinkMode = 'ok' | '500' | 'hang' | 'store-then-hang' | 'reset';

export interface SinkRow {
  idempotencyKey: string;
  items: number;
  requests: number;
  cachedCount: number;
  errorCount: number;
  [k: string]: unknown;
}

/** A usage sink on loopback that records every delivery. */
export class TestSink {
  /** Accepted rows by idempotency key (each key once). */
  readonly rows = new Map<string, SinkRow>();
  /** Requests received, by mode applied. */
  readonly requests: { mode: SinkMode; rows: number; batchKey: string }[] = [];
  /** Keys received again after they were stored (redeliveries, dropped by key). */
  redelivered = 0;
  /** A redelivered key whose content differed from what was stored (must stay 0). */
  conflicts = 0;
  /** Batch header that did not match the rows' keys (must stay 0). */
  badBatchKeys = 0;
  /** Rows without an idempotency key (must stay 0). */
  missingKeys = 0;
  /** Answers `ok` requests after a random delay below this (ms), so crashes land mid-post. */
  latencyMs = 0;
  private plan: SinkMode[] = [];
  private fallback: SinkMode = 'ok';
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/usage`;
  }

  /** The next requests get these modes, in order; then `then` for every request. */
  script(modes: SinkMode[], then: SinkMode = 'ok'): void {
    this.plan = [...modes];
    this.fallback = then;
  }

  totals(): { items: number; requests: number; cached: number; errors: number } {
    let items = 0;
    let requests = 0;
    let cached = 0;
    let errors = 0;
    for (const r of this.rows.values()) {
      items += r.items;
      requests += r.requests;
      cached += r.cachedCount;
      errors += r.errorCount;
    }
    return { items, requests, cached, errors };
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Closes the listener and every connection: posts are refused until start() again. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private store(rows: SinkRow[]): void {
    for (const row of rows) {
      if (typeof row.idempotencyKey !== 'string' || row.idempotencyKey.length === 0) {
        this.missingKeys += 1;
        continue;
      }
      const had = this.rows.get(row.idempotencyKey);
      if (had) {
        this.redelivered += 1;
        if (JSON.stringify(had) !== JSON.stringify(row)) this.conflicts += 1;
        continue;
      }
      this.rows.set(row.idempotencyKey, row);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const mode = this.plan.shift() ?? this.fallback;
    let rows: SinkRow[] = [];
    try {
      rows = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SinkRow[];
    } catch {
      res.writeHead(400).end('bad json');
      return;
    }
    const batchKey = String(req.headers['idempotency-key'] ?? '');
    const expected = createHash('sha256')
      .update(
        rows
          .map((r) => r.idempotencyKey)
          .sort()
          .join('\n'),
      )
      .digest('hex');
    if (batchKey !== expected) this.badBatchKeys += 1;
    this.requests.push({ mode, rows: rows.length, batchKey });
    switch (mode) {
      case 'ok':
        if (this.latencyMs > 0)
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * this.latencyMs)));
        if (res.destroyed) return;
        this.store(rows);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      case '500':
        res.writeHead(500).end('sink exploded');
        return;
      case 'store-then-hang':
        this.store(rows);
        return;
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
    }
  }
}
