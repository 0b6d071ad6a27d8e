import { hasStatements, nextTimestamp, normalizeMigrationName } from '../../src/create-migration';

describe('normalizeMigrationName', () => {
  it('makes lowercase snake_case like the Prisma CLI', () => {
    expect(normalizeMigrationName('Add model-owner column')).toBe('add_model_owner_column');
    expect(normalizeMigrationName('__init__')).toBe('init');
  });

  it('refuses a name without letters or digits', () => {
    expect(() => normalizeMigrationName('--')).toThrow(/invalid migration name/);
  });
});

describe('nextTimestamp', () => {
  const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

  it('is the UTC time as yyyyMMddHHmmss', () => {
    expect(nextTimestamp(now, [])).toBe('20260102030405');
  });

  it('sorts after every existing migration even when the clock is behind', () => {
    expect(nextTimestamp(now, ['20260102030405_a'])).toBe('20260102030406');
    expect(nextTimestamp(now, ['20991231235959_future', 'x_not_a_migration'])).toBe(
      '21000101000000',
    );
  });
});

describe('hasStatements', () => {
  it('sees through comments and blank lines', () => {
    expect(hasStatements('-- This is an empty migration.\n\n')).toBe(false);
    expect(hasStatements('')).toBe(false);
    expect(hasStatements('-- AddColumn\nALTER TABLE "a" ADD COLUMN "b" TEXT;\n')).toBe(true);
  });
});
