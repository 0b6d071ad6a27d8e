#!/usr/bin/env node
// The baseline of bench/cache-hit.mjs: a bare Fastify server that takes the same request (same
// route, same binary body, which Fastify reads into a Buffer) and answers with one Redis GET of
// the payload the gateway answers a cache hit with, same headers. No auth, validation, hashing,
// metrics or usage accounting: the floor a cache in front of Redis cannot go under.
//
//   node bench/bare-fastify-redis.mjs PORT REDIS_URL KEY HEADER_LENGTH
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'apps/gateway/package.json'));
const Fastify = require('fastify');
const { Redis } = require('ioredis');

const [port, redisUrl, key, headerLength] = process.argv.slice(2);
const redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) =>
  done(null, body),
);
app.post('/v2/models/:model/infer', async (_req, reply) => {
  const payload = await redis.getBuffer(key);
  reply
    .header('content-type', 'application/octet-stream')
    .header('inference-header-content-length', headerLength)
    .header('x-strata-cache', 'hit');
  return payload;
});
redis.once('ready', () => {
  app.listen({ port: Number(port), host: '127.0.0.1' }).then(
    () => process.stdout.write('ready\n'),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => redis.quit())
    .finally(() => process.exit(0));
});
