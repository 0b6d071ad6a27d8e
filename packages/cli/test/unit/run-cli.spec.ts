import { InvalidNameError } from '@strata/artifact-layout';
import { ConfigError } from '@strata/config';
import { S3StoreError, VersionExistsError } from '@strata/model-registry';
import { describeFailure, EXIT, UsageError } from '../../src/exit-codes';
import { runCli } from '../../src/program';

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (s: string) => ((out.stdout += s), true) },
      stderr: { write: (s: string) => ((out.stderr += s), true) },
    } as never,
  };
}

// No configuration at all: these must fail on their arguments before any is read.
describe('runCli without configuration', () => {
  it.each([
    [['models', 'push', '/tmp', '--model', '../etc'], /Invalid model name "\.\.\/etc"/],
    [
      ['models', 'push', '/tmp', '--model', 'ok', '--origin-url', 'ftp://x'],
      /Invalid --origin-url/,
    ],
    [['models', 'push', '/tmp', '--model', 'ok', '--alias', 'latest'], /--alias latest/],
    [['models', 'push', '/tmp', '--model', 'ok', '--task-type', 'A B'], /Invalid task type/],
    [['models', 'rm', 'm/prod'], /names an alias/],
    [['models', 'rm', 'm'], /without --force/],
    [['models', 'show', 'UP'], /Invalid model name "UP"/],
    [['models', 'alias', 'm', 'prod', 'x'], /Invalid version "x"/],
  ])('%j → exit 2', async (argv, message) => {
    const { out, io: streams } = io();
    expect(await runCli(argv, streams, {})).toBe(EXIT.usage);
    expect(out.stderr).toMatch(message);
    expect(out.stdout).toBe('');
  });

  it('a valid command without DATABASE_URL/S3_BUCKET is a configuration error (exit 2)', async () => {
    const { out, io: streams } = io();
    expect(await runCli(['models', 'list'], streams, {})).toBe(EXIT.usage);
    expect(out.stderr).toMatch(/DATABASE_URL: required/);
    expect(out.stderr).toMatch(/S3_BUCKET: required/);
  });

  it('help exits 0; unknown commands and options exit 2', async () => {
    const help = io();
    expect(await runCli(['--help'], help.io, {})).toBe(EXIT.ok);
    expect(help.out.stdout).toContain('models');
    expect(await runCli(['nope'], io().io, {})).toBe(EXIT.usage);
    expect(await runCli(['models', 'list', '--bogus'], io().io, {})).toBe(EXIT.usage);
  });
});

describe('describeFailure', () => {
  it('maps errors to exit codes', () => {
    expect(describeFailure(new UsageError('u')).code).toBe(2);
    expect(describeFailure(new InvalidNameError('model name', 'x', 'bad', 'good')).code).toBe(2);
    expect(describeFailure(new ConfigError('cli', [])).code).toBe(2);
    expect(describeFailure(new VersionExistsError('m', 1, 'ready')).code).toBe(1);
    expect(
      describeFailure(
        new S3StoreError('unreachable', 'HeadBucket', 'b', undefined, 'e', undefined, 'd'),
      ),
    ).toEqual({ code: 1, message: 'S3 HeadBucket of s3://b/ failed: S3 is unreachable at e (d)' });
    expect(describeFailure(new TypeError('boom'))).toEqual({ code: 1, message: 'TypeError: boom' });
  });
});
