import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '../../src';

function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...EMBEDDED_S3_CREDENTIALS },
    // Without this, stream bodies are stored with aws-chunked framing (see ENVIRONMENT.md).
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

describe('startEmbeddedS3', () => {
  let dir: string;
  let s3: EmbeddedS3;
  let c: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'strata-embedded-s3-'));
    s3 = await startEmbeddedS3({ directory: dir, port: 0, buckets: ['strata-test'] });
    c = client(s3.endpoint);
  });

  afterAll(async () => {
    c?.destroy();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on loopback with a free port', () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.port).toBeGreaterThan(0);
  });

  it('creates the configured bucket at start', async () => {
    await expect(c.send(new HeadBucketCommand({ Bucket: 'strata-test' }))).resolves.toBeDefined();
    await expect(c.send(new HeadBucketCommand({ Bucket: 'absent-bucket' }))).rejects.toThrow();
  });

  it('stores and returns an object byte for byte', async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await c.send(
      new PutObjectCommand({
        Bucket: 'strata-test',
        Key: 'models/demo/1/weights.onnx',
        Body: body,
        Metadata: { sha256: 'abc' },
      }),
    );
    const got = await c.send(
      new GetObjectCommand({ Bucket: 'strata-test', Key: 'models/demo/1/weights.onnx' }),
    );
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.Metadata).toEqual({ sha256: 'abc' });
  });

  it('stores a stream body without chunk framing', async () => {
    const text = 'hello strata\n'.repeat(1000);
    await c.send(
      new PutObjectCommand({
        Bucket: 'strata-test',
        Key: 'stream.txt',
        Body: Readable.from([Buffer.from(text)]),
        ContentLength: Buffer.byteLength(text),
      }),
    );
    const got = await c.send(new GetObjectCommand({ Bucket: 'strata-test', Key: 'stream.txt' }));
    expect(await got.Body!.transformToString()).toBe(text);
  });

  it('pages listings (needs --openssl-legacy-provider)', async () => {
    // Keys without '-' or '.' next to '/': s3rver drops some of those across pages.
    for (let i = 0; i < 5; i++) {
      await c.send(
        new PutObjectCommand({ Bucket: 'strata-test', Key: `page/k${i}`, Body: `v${i}` }),
      );
    }
    const first = await c.send(
      new ListObjectsV2Command({ Bucket: 'strata-test', Prefix: 'page/', MaxKeys: 2 }),
    );
    expect(s3.paginatedListings).toBe(true);
    expect(first.IsTruncated).toBe(true);
    const second = await c.send(
      new ListObjectsV2Command({
        Bucket: 'strata-test',
        Prefix: 'page/',
        MaxKeys: 10,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    const keys = [...(first.Contents ?? []), ...(second.Contents ?? [])].map((o) => o.Key);
    expect(keys).toEqual(['page/k0', 'page/k1', 'page/k2', 'page/k3', 'page/k4']);
  });

  it('keeps objects on disk after stop and serves them after a restart', async () => {
    await s3.stop();
    c.destroy();
    s3 = await startEmbeddedS3({ directory: dir, port: 0, buckets: ['strata-test'] });
    c = client(s3.endpoint);
    const got = await c.send(new GetObjectCommand({ Bucket: 'strata-test', Key: 'stream.txt' }));
    expect((await got.Body!.transformToString()).length).toBeGreaterThan(0);
  });

  it('lets clients create further buckets', async () => {
    await c.send(new CreateBucketCommand({ Bucket: 'second-bucket' }));
    expect((await readdir(dir)).sort()).toEqual(expect.arrayContaining(['second-bucket']));
  });
});

describe('embedded-s3 CLI (dist/cli.js)', () => {
  // The integration tier runs after the package's build, so this is the file scripts run.
  const cli = path.resolve(__dirname, '../../dist/cli.js');
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'strata-embedded-s3-cli-'));
  });

  afterAll(async () => {
    // The CLI restarts itself; its own process group holds both processes.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves its bucket until SIGTERM, then exits 0', async () => {
    // Started without the legacy provider on purpose: the CLI must restart itself under it.
    // eslint-disable-next-line no-restricted-properties -- builds the child's environment
    const env = { ...process.env, NODE_OPTIONS: '' };
    child = spawn(process.execPath, [cli, '--dir', dir, '--port', '0', '--bucket', 'cli-bucket'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      detached: true,
    });
    const proc = child;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const endpoint = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.on('exit', (code) => reject(new Error(`CLI exited ${code}: ${stderr}`)));
    });

    const c = client(endpoint);
    try {
      await c.send(new HeadBucketCommand({ Bucket: 'cli-bucket' }));
      await c.send(new PutObjectCommand({ Bucket: 'cli-bucket', Key: 'a/b', Body: 'x' }));
      for (const k of ['a/c', 'a/d']) {
        await c.send(new PutObjectCommand({ Bucket: 'cli-bucket', Key: k, Body: 'y' }));
      }
      // Paging works only if the restart under the legacy provider happened.
      const page = await c.send(
        new ListObjectsV2Command({ Bucket: 'cli-bucket', Prefix: 'a/', MaxKeys: 1 }),
      );
      const next = await c.send(
        new ListObjectsV2Command({
          Bucket: 'cli-bucket',
          Prefix: 'a/',
          ContinuationToken: page.NextContinuationToken,
        }),
      );
      expect(next.Contents?.map((o) => o.Key)).toEqual(['a/c', 'a/d']);
    } finally {
      c.destroy();
    }

    const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('refuses to start without --dir', async () => {
    const proc = spawn(process.execPath, [cli, '--port', '0'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(2);
  });
});
