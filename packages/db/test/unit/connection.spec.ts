import { assertSchemaName, parseDatabaseUrl, poolConfig } from '../../src/connection';
import { databaseUrlForSchema, randomSchemaName } from '../../src/schema-admin';

describe('parseDatabaseUrl', () => {
  it('takes ?schema= out of the URL that pg sees', () => {
    const target = parseDatabaseUrl(
      'postgresql://u:p@db:5432/strata?schema=tenant_a&sslmode=disable',
    );
    expect(target.schema).toBe('tenant_a');
    expect(target.connectionString).toBe('postgresql://u:p@db:5432/strata?sslmode=disable');
  });

  it('defaults to public and accepts postgres://', () => {
    expect(parseDatabaseUrl('postgres://u@db/strata').schema).toBe('public');
  });

  it('rejects other protocols and garbage with a clear message', () => {
    expect(() => parseDatabaseUrl('mysql://u@db/x')).toThrow(/postgresql:\/\//);
    expect(() => parseDatabaseUrl('not a url')).toThrow(/not a valid URL/);
  });

  it('rejects schema names that would need escaping', () => {
    expect(() => parseDatabaseUrl('postgresql://u@db/x?schema=a%22b')).toThrow(
      /invalid schema name/,
    );
    expect(() => assertSchemaName('1abc')).toThrow();
    expect(() => assertSchemaName('x'.repeat(64))).toThrow();
    expect(() => assertSchemaName('test_0a1b')).not.toThrow();
  });
});

describe('poolConfig', () => {
  it('points search_path at the schema on every connection', () => {
    const config = poolConfig(parseDatabaseUrl('postgresql://u@db/x?schema=t_1'), { max: 3 });
    expect(config).toMatchObject({
      connectionString: 'postgresql://u@db/x',
      options: '-c search_path="t_1"',
      max: 3,
    });
  });
});

describe('schema helpers', () => {
  it('databaseUrlForSchema sets or replaces ?schema=', () => {
    expect(databaseUrlForSchema('postgresql://u@db/x', 's1')).toBe('postgresql://u@db/x?schema=s1');
    expect(databaseUrlForSchema('postgresql://u@db/x?schema=a&sslmode=require', 'b')).toBe(
      'postgresql://u@db/x?schema=b&sslmode=require',
    );
  });

  it('randomSchemaName gives distinct valid names', () => {
    const a = randomSchemaName();
    expect(a).toMatch(/^test_[0-9a-f]{12}$/);
    expect(randomSchemaName()).not.toBe(a);
  });
});
