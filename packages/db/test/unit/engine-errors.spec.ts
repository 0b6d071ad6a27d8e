import { describeEngineError, formatEngineLog } from '../../src/engine/engine-errors';

describe('describeEngineError', () => {
  it('keeps the message and drops the span trace and the generic header', () => {
    const error = new Error(
      'external connector error\nNo such table: x\n   0: sql_schema_connector::apply_migration::apply_script\n           with migration_name="m"\n',
    );
    expect(describeEngineError(error)).toBe('No such table: x');
  });

  it('prefixes a Prisma error code when the message lacks it', () => {
    const error = Object.assign(new Error('migrations failed'), { code: 'P3009' });
    expect(describeEngineError(error)).toBe('P3009: migrations failed');
  });
});

describe('formatEngineLog', () => {
  it('reads the engine JSON log lines', () => {
    const line = '{"level":"WARN","fields":{"message":"edited","name":"m"},"target":"x"}';
    expect(formatEngineLog(line)).toEqual({ level: 'WARN', text: 'edited {"name":"m"}' });
    expect(formatEngineLog('plain text')).toBeUndefined();
  });
});
