import * as path from 'node:path';

// src/ and dist/ sit side by side in the package, so one relative path serves both.
const PACKAGE_DIR = path.resolve(__dirname, '..');

/** `prisma/schema.prisma` of this package. */
export const SCHEMA_PATH = path.join(PACKAGE_DIR, 'prisma', 'schema.prisma');

/** The committed migrations, `prisma/migrations/<timestamp>_<name>/migration.sql`. */
export const MIGRATIONS_DIR = path.join(PACKAGE_DIR, 'prisma', 'migrations');
