import { freePort, spawnProcess, type SpawnedService } from '@strata/testing';
import * as path from 'node:path';

const script = path.join(__dirname, '..', 'fixtures', 'ready-server.fixture.js');

describe('spawnProcess', () => {
  let proc: SpawnedService;
  const stray = 'REDIS_KEY_PREFIX';

  beforeAll(async () => {
    // A Strata variable in the runner's environment must not reach the child.
    // eslint-disable-next-line no-restricted-properties -- the point of the test
    process.env[stray] = 'leaked';
    const port = await freePort();
    proc = spawnProcess({ name: 'fixture', script, env: { FIXTURE_PORT: String(port) }, port });
  });

  afterAll(async () => {
    // eslint-disable-next-line no-restricted-properties -- undo the setup above
    delete process.env[stray];
    await proc.stop(5000);
  });

  it('waits for /readyz to answer 200', async () => {
    await proc.waitForReady(20_000);
  });

  it('gives the child only PATH, HOME and the given variables', async () => {
    const record = await proc.waitForLog((r) => r.msg === 'env');
    const keys = record.keys as string[];
    expect(keys).toContain('FIXTURE_PORT');
    expect(keys).not.toContain(stray);
    expect(keys.filter((k) => !['FIXTURE_PORT', 'PATH', 'HOME'].includes(k))).toEqual([]);
  });

  it('collects stdout, stderr and parsed JSON records', async () => {
    await proc.waitForLog((r) => r.msg === 'listening');
    expect(proc.stdout).toContain('not json');
    expect(proc.stderr).toContain('to stderr');
    expect(proc.logs.map((r) => r.msg)).toEqual(['env', 'listening']);
  });

  it('reports the exit after SIGTERM', async () => {
    proc.sigterm();
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.logs.at(-1)?.msg).toBe('bye');
  });

  it('fails waitForReady at once when the process has exited', async () => {
    await expect(proc.waitForReady(60_000)).rejects.toThrow(/exited \(0\) before it was ready/);
  });

  it('refuses a script that does not exist', () => {
    expect(() =>
      spawnProcess({ name: 'x', script: '/nonexistent/main.js', env: {}, port: 1 }),
    ).toThrow(/build it first/);
  });
});
