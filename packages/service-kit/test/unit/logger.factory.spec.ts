import { createLogger, formatPrettyLine } from '@strata/service-kit';

function capture(): { lines: string[]; write(s: string): void } {
  const lines: string[] = [];
  return { lines, write: (s: string) => lines.push(...s.split('\n').filter(Boolean)) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with service, level name, time and msg', () => {
    const out = capture();
    const logger = createLogger({
      service: 'gateway',
      level: 'info',
      format: 'json',
      destination: out,
    });
    logger.info({ url: 'http://x' }, 'listening');
    logger.warn('second');
    expect(out.lines).toHaveLength(2);
    const first = JSON.parse(out.lines[0]);
    expect(first).toMatchObject({
      service: 'gateway',
      level: 'info',
      msg: 'listening',
      url: 'http://x',
      pid: process.pid,
    });
    expect(new Date(first.time).toISOString()).toBe(first.time);
    expect(JSON.parse(out.lines[1])).toMatchObject({ level: 'warn', msg: 'second' });
  });

  it('honours the level', () => {
    const out = capture();
    const logger = createLogger({
      service: 'gateway',
      level: 'warn',
      format: 'json',
      destination: out,
    });
    logger.info('hidden');
    logger.debug('hidden');
    logger.error('shown');
    expect(out.lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
    const silent = capture();
    createLogger({ service: 'x', level: 'silent', format: 'json', destination: silent }).fatal(
      'no',
    );
    expect(silent.lines).toEqual([]);
  });

  it('serialises errors with type, message and stack', () => {
    const out = capture();
    const logger = createLogger({
      service: 'gateway',
      level: 'info',
      format: 'json',
      destination: out,
    });
    logger.error({ err: new TypeError('boom') }, 'failed');
    const rec = JSON.parse(out.lines[0]);
    expect(rec.err).toMatchObject({ type: 'TypeError', message: 'boom' });
    expect(rec.err.stack).toContain('TypeError: boom');
  });

  it('prints a short single line in pretty format', () => {
    const out = capture();
    const logger = createLogger({
      service: 'model-loader',
      level: 'info',
      format: 'pretty',
      destination: out,
    });
    logger.info({ context: 'Cache', model: 'resnet', version: 3 }, 'loaded\nfrom disk');
    logger.error({ err: new Error('bad sha') }, 'verify failed');
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}model-loader \[Cache\] loaded\\nfrom disk model=resnet version=3$/,
    );
    expect(out.lines[1]).toMatch(/ ERROR model-loader verify failed err="Error: bad sha"$/);
  });
});

describe('formatPrettyLine', () => {
  it('quotes values with spaces and inlines objects', () => {
    const line = formatPrettyLine({
      time: '2026-01-02T03:04:05.678Z',
      level: 'warn',
      service: 'gateway',
      msg: 'slow',
      path: '/v2/models a',
      took: { ms: 12 },
    });
    expect(line).toBe('03:04:05.678 WARN  gateway slow path="/v2/models a" took={"ms":12}');
  });
});
