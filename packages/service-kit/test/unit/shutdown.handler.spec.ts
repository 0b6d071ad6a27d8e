import { createLogger, createShutdownHandler, type ShutdownSteps } from '@strata/service-kit';

function silentLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'gateway',
    level: 'info',
    format: 'json',
    destination: { write: (s: string) => records.push(JSON.parse(s)) },
  });
  return { logger, records };
}

describe('createShutdownHandler', () => {
  afterEach(() => jest.useRealTimers());

  it('marks not ready, drains, closes the app, then exits 0', async () => {
    const calls: string[] = [];
    const steps: ShutdownSteps = {
      markNotReady: () => calls.push('not-ready'),
      drain: async () => {
        calls.push('drain');
      },
      closeApp: async () => {
        calls.push('close');
      },
    };
    const { logger, records } = silentLogger();
    const exit = jest.fn();
    await createShutdownHandler({ logger, timeoutSeconds: 30, steps, exit })('SIGTERM');
    expect(calls).toEqual(['not-ready', 'drain', 'close']);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
    expect(records.map((r) => r.msg)).toContain('shutdown complete');
  });

  it('runs once when signalled twice', async () => {
    const drain = jest.fn(async () => undefined);
    const { logger } = silentLogger();
    const exit = jest.fn();
    const handler = createShutdownHandler({
      logger,
      timeoutSeconds: 30,
      steps: { markNotReady: () => undefined, drain, closeApp: async () => undefined },
      exit,
    });
    await Promise.all([handler('SIGTERM'), handler('SIGINT')]);
    expect(drain).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('exits 1 when a step fails', async () => {
    const { logger, records } = silentLogger();
    const exit = jest.fn();
    await createShutdownHandler({
      logger,
      timeoutSeconds: 30,
      steps: {
        markNotReady: () => undefined,
        drain: async () => undefined,
        closeApp: async () => Promise.reject(new Error('socket stuck')),
      },
      exit,
    })('SIGTERM');
    expect(exit).toHaveBeenCalledWith(1);
    expect(records.some((r) => String(r.msg).includes('socket stuck'))).toBe(true);
  });

  it('exits 1 after SHUTDOWN_TIMEOUT when draining does not finish', async () => {
    jest.useFakeTimers();
    const { logger, records } = silentLogger();
    const exit = jest.fn();
    void createShutdownHandler({
      logger,
      timeoutSeconds: 5,
      steps: {
        markNotReady: () => undefined,
        drain: () => new Promise<void>(() => undefined),
        closeApp: async () => undefined,
      },
      exit,
    })('SIGTERM');
    await jest.advanceTimersByTimeAsync(4999);
    expect(exit).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledWith(1);
    expect(records.some((r) => String(r.msg).includes('longer than 5 s'))).toBe(true);
  });
});
