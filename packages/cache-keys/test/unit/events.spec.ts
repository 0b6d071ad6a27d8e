import { parseJsonRecord, parseWorkerCommand } from '@strata/cache-keys';

describe('channel messages', () => {
  it('parseJsonRecord reads JSON objects and nothing else, without throwing', () => {
    expect(parseJsonRecord('{"a":1}')).toEqual({ a: 1 });
    for (const bad of ['', 'not json', '1', '"s"', 'null', '[1]']) {
      expect(parseJsonRecord(bad)).toBeUndefined();
    }
  });

  it('parseWorkerCommand accepts well-formed commands only', () => {
    expect(parseWorkerCommand('{"type":"clear"}')).toEqual({ type: 'clear' });
    expect(parseWorkerCommand('{"type":"unload","model":"m","version":2}')).toEqual({
      type: 'unload',
      model: 'm',
      version: 2,
    });
    expect(parseWorkerCommand('{"type":"unload","model":"m","version":0}')).toBeUndefined();
    expect(parseWorkerCommand('[{"type":"clear"}]')).toBeUndefined();
  });
});
