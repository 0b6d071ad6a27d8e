import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GATEWAY_SETTINGS, type GatewaySettings } from '../gateway-settings';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { requestState } from './request-context';

/** `POST /v2/models/{m}[/versions/{v}]/infer`: bodies the tensor codec reads itself. */
const INFER_PATH = /^\/v2\/models\/[^/?]+(?:\/versions\/[^/?]+)?\/infer\/?(?:\?|$)/;

export function isInferPath(url: string): boolean {
  return INFER_PATH.test(url);
}

/**
 * A body refused for its declared length (413) is still read and thrown away when it is at most
 * this long (or 4x the limit, whichever is more), so the client sees the 413. Fastify refuses
 * it from the Content-Length alone and answers with `Connection: close`; the socket then closes
 * with the body still arriving, the kernel resets it, and the reset can destroy the 413 before
 * the client reads it (seen on every try of the gateway e2e test on 2026-12-07). Without that
 * header Node reads the rest of the declared body off the wire after the answer, and the
 * connection stays usable. Longer bodies still get the close: reading them costs more than a
 * lost answer to a client that far over the limit.
 */
const DRAIN_REFUSED_BODY_MAX = 64 * 1024 * 1024;

function jsonError(message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: 400 });
}

/**
 * Fastify settings the gateway needs and Nest does not expose: one body limit
 * (GATEWAY_MAX_BODY_BYTES → 413) for every content type; inference bodies kept as raw bytes
 * (JSON, or JSON header + binary tensors; parsed once by @strata/tensors); any other content
 * type read as bytes (the binary extension's `application/octet-stream`); multipart uploads for
 * the task endpoints; and the request metrics hook. Runs before the server listens.
 */
@Injectable()
export class HttpSetup implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly metrics: GatewayMetrics,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    // Absent in tests that build the module without an HTTP server.
    if (!fastify || typeof fastify.addContentTypeParser !== 'function') return;
    const bodyLimit = this.settings.maxBodyBytes;

    // Fastify's own JSON and text parsers would apply its 1 MiB default limit.
    for (const type of ['application/json', 'text/plain']) {
      if (fastify.hasContentTypeParser(type)) fastify.removeContentTypeParser(type);
    }
    fastify.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit },
      (request, body, done) => {
        const bytes = body as Buffer;
        if (isInferPath(request.url)) return done(null, bytes);
        if (bytes.length === 0) return done(null, undefined);
        try {
          done(null, JSON.parse(bytes.toString('utf8')));
        } catch (err) {
          done(jsonError(`the body is not valid JSON: ${(err as Error).message}`), undefined);
        }
      },
    );
    fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) =>
      done(null, body),
    );
    // Not awaited: awaiting would make Fastify settle its routes now, before Nest installs its
    // error handler, and errors raised while reading bodies (413, bad JSON) would bypass it.
    void fastify.register(multipart, {
      attachFieldsToBody: 'keyValues',
      limits: {
        fileSize: bodyLimit,
        files: 1,
        fields: 32,
        fieldSize: 1024 * 1024,
        parts: 40,
      },
    });

    fastify.addHook('onRequest', (request, _reply, done) => {
      requestState(request);
      done();
    });
    const drainable = Math.max(4 * bodyLimit, DRAIN_REFUSED_BODY_MAX);
    fastify.addHook('onSend', (request, reply, payload, done) => {
      // Only a declared length refused before any byte was read: Node's parser then knows where
      // the body ends and, since nobody read it, discards it after the answer. A body refused
      // midway (chunked, or by a multipart limit while streaming) keeps the close, as Fastify
      // decided: a half-read body left on a kept-alive connection would stall it.
      if (reply.statusCode === 413 && !request.raw.readableDidRead) {
        const declared = Number(request.headers['content-length']);
        if (declared > bodyLimit && declared <= drainable) reply.removeHeader('connection');
      }
      done(null, payload);
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      const state = requestState(request);
      const seconds = Number(process.hrtime.bigint() - state.startedAt) / 1e9;
      const labels = {
        route: request.routeOptions?.url ?? 'unmatched',
        model: state.model ?? '',
        status: String(reply.statusCode),
      };
      this.metrics.requests.inc(labels);
      this.metrics.duration.observe(labels, seconds);
      done();
    });
  }
}
