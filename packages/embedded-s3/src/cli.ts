#!/usr/bin/env node
// Runs the embedded S3 until SIGTERM or SIGINT:
//   node dist/cli.js --dir .strata/s3 --port 4569 --bucket strata-models [--bucket b2] [--verbose]
// Prints one line `embedded-s3 listening on http://127.0.0.1:PORT ...` once buckets exist.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { hasLegacyCiphers, startEmbeddedS3 } from './embedded-s3';

const USAGE =
  'usage: strata-embedded-s3 --dir DIR [--port PORT (0 = any free)] [--bucket NAME]... [--verbose]';
// Marks the child started below, so a Node without the legacy provider cannot loop.
const REEXEC_FLAG = '--reexeced-with-legacy-provider';

function fail(message: string): never {
  process.stderr.write(`embedded-s3: ${message}\n${USAGE}\n`);
  process.exit(2);
}

/**
 * s3rver's paginated listings need DES (OpenSSL legacy provider). Rather than trust every caller
 * to pass the flag, restart under it and relay signals and the exit code.
 */
function reexecWithLegacyProvider(args: string[]): void {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', ...process.execArgv, __filename, REEXEC_FLAG, ...args],
    { stdio: 'inherit' },
  );
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => child.kill(sig));
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const reexeced = argv[0] === REEXEC_FLAG;
  const args = reexeced ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        dir: { type: 'string' },
        port: { type: 'string', default: '0' },
        bucket: { type: 'string', multiple: true, default: [] },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.dir) fail('--dir is required');
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port ?? '') || port > 65535) fail(`invalid --port ${values.port}`);

  if (!hasLegacyCiphers()) {
    if (!reexeced) {
      reexecWithLegacyProvider(args);
      return;
    }
    process.stderr.write(
      'embedded-s3: OpenSSL legacy provider unavailable; paginated listings will fail\n',
    );
  }

  const s3 = await startEmbeddedS3({
    directory: values.dir,
    port,
    buckets: values.bucket,
    verbose: values.verbose,
  });
  process.stdout.write(
    `embedded-s3 listening on ${s3.endpoint} (dir ${values.dir}, buckets: ${values.bucket?.join(', ') || 'none'})\n`,
  );

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`embedded-s3 stopping (${sig})\n`);
    s3.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`embedded-s3: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`embedded-s3: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
