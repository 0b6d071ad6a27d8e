export * from './generated/prisma/client';
export {
  createPrismaClient,
  pingDatabase,
  type PingResult,
  type PrismaClientOptions,
  type RawQueryable,
} from './client';
export { parseDatabaseUrl, type DatabaseTarget } from './connection';
export { createSchema, databaseUrlForSchema, dropSchema, randomSchemaName } from './schema-admin';
export { migrate, MigrationError, type MigrateOptions, type MigrateResult } from './migrate';
export {
  createMigration,
  EmptyMigrationError,
  normalizeMigrationName,
  type CreateMigrationOptions,
  type CreatedMigration,
} from './create-migration';
export { MIGRATIONS_DIR, SCHEMA_PATH } from './paths';
