import { createLogger, NestLoggerAdapter } from '@strata/service-kit';

function setup(level: 'info' | 'debug' = 'info') {
  const records: Record<string, unknown>[] = [];
  const destination = { write: (s: string) => records.push(JSON.parse(s)) };
  const logger = createLogger({ service: 'gateway', level, format: 'json', destination });
  return { records, nest: new NestLoggerAdapter(logger) };
}

describe('NestLoggerAdapter', () => {
  it('maps Nest levels and the trailing context', () => {
    const { records, nest } = setup('debug');
    nest.log('hello', 'Feature');
    nest.warn('careful');
    nest.debug('details', 'Feature');
    expect(records).toEqual([
      expect.objectContaining({ level: 'info', msg: 'hello', context: 'Feature' }),
      expect.objectContaining({ level: 'warn', msg: 'careful' }),
      expect.objectContaining({ level: 'debug', msg: 'details', context: 'Feature' }),
    ]);
  });

  it('keeps the stack of error(message, stack, context)', () => {
    const { records, nest } = setup();
    const err = new Error('nope');
    nest.error('request failed', err.stack, 'ExceptionsHandler');
    expect(records[0]).toMatchObject({
      level: 'error',
      msg: 'request failed',
      context: 'ExceptionsHandler',
    });
    expect(String(records[0].stack)).toContain('Error: nope');
  });

  it('serialises Error messages under err', () => {
    const { records, nest } = setup();
    nest.error(new Error('exploded'));
    expect(records[0]).toMatchObject({
      level: 'error',
      msg: 'exploded',
      err: { message: 'exploded' },
    });
  });

  it('demotes Nest boot chatter to debug', () => {
    const { records, nest } = setup('info');
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.log('Mapped {/healthz, GET} route', 'RouterExplorer');
    expect(records).toEqual([]);
  });
});
