import { loadConfigOrExit } from '@strata/service-kit';

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function io(env: Record<string, string>) {
  let stderr = '';
  return {
    get stderr() {
      return stderr;
    },
    io: {
      env,
      stderr: { write: (s: string) => (stderr += s) },
      exit: (code: number): never => {
        throw new Exit(code);
      },
    },
  };
}

describe('loadConfigOrExit', () => {
  it('returns the frozen config of a valid environment', () => {
    const t = io({ GATEWAY_PORT: '9000', DATABASE_URL: 'postgresql://u@h/db' });
    const config = loadConfigOrExit('gateway', t.io);
    expect(config.GATEWAY_PORT).toBe(9000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(t.stderr).toBe('');
  });

  it('prints every bad variable to stderr without a stack trace and exits 1', () => {
    const t = io({ REDIS_URL: 'foo', GATEWAY_PORT: 'x', DATABASE_URL: 'postgresql://u@h/db' });
    let exit: Exit | undefined;
    try {
      loadConfigOrExit('gateway', t.io);
    } catch (err) {
      exit = err as Exit;
    }
    expect(exit).toBeInstanceOf(Exit);
    expect(exit?.code).toBe(1);
    expect(t.stderr).toContain('REDIS_URL');
    expect(t.stderr).toContain('GATEWAY_PORT');
    expect(t.stderr).not.toMatch(/\n\s+at /);
    // REDIS_URL is secret: its value is never echoed.
    expect(t.stderr).not.toContain('"foo"');
  });

  it('names a missing required variable', () => {
    const t = io({});
    expect(() => loadConfigOrExit('telemetry-sender', t.io)).toThrow(Exit);
    expect(t.stderr).toContain('DATABASE_URL');
  });
});
