import { EXIT } from '../../src/exit-codes';
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

// No configuration at all: bad arguments are refused before any is read.
describe('strata keys: argument errors', () => {
  it.each([
    [['keys', 'create'], /required option '--name <name>'/],
    [['keys', 'create', '--name', ''], /name must be 1–100 characters/],
    [['keys', 'create', '--name', 'ci', '--scopes', 'read'], /unknown scope "read"/],
    [
      ['keys', 'create', '--name', 'ci', '--expires', 'soon'],
      /neither an ISO date-time nor a duration/,
    ],
    [['keys', 'create', '--name', 'ci', '--expires', '2001-01-01T00:00:00Z'], /not in the future/],
    [['keys', 'create', '--name', 'ci', '--rate-limit', 'fast'], /rate limit must be an integer/],
    [['keys', 'create', '--name', 'ci', '--rate-limit', '-1'], /rate limit must be an integer/],
    [['keys', 'create', '--name', 'ci', '--workspace', 'Bad WS'], /Invalid workspace/],
    [['keys', 'revoke', 'not-a-uuid'], /is not an API key id/],
    [['keys', 'revoke'], /missing required argument 'id'/],
  ])('%j → exit 2', async (argv, message) => {
    const { out, io: streams } = io();
    expect(await runCli(argv, streams, {})).toBe(EXIT.usage);
    expect(out.stderr).toMatch(message);
    expect(out.stdout).toBe('');
  });

  it('a valid command without DATABASE_URL is a configuration error (exit 2)', async () => {
    const { out, io: streams } = io();
    expect(await runCli(['keys', 'list'], streams, {})).toBe(EXIT.usage);
    expect(out.stderr).toMatch(/DATABASE_URL: required/);
  });

  it('is listed in the help', async () => {
    const help = io();
    expect(await runCli(['keys', '--help'], help.io, {})).toBe(EXIT.ok);
    expect(help.out.stdout).toMatch(/create[\s\S]*list[\s\S]*revoke/);
  });
});
