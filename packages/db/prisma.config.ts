// Configuration of the Prisma CLI, for machines where its native engines can be downloaded (a
// Docker build, a laptop with network): there `prisma migrate deploy` applies the same committed
// migrations as `pnpm --filter @strata/db migrate`. `prisma generate` (the build) runs without a
// database, so the URL is optional here rather than `env('DATABASE_URL')`, which throws when unset.
import { defineConfig } from 'prisma/config';

const url = process.env.DATABASE_URL; // eslint-disable-line no-restricted-properties -- CLI tool config, not app code

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  ...(url ? { datasource: { url } } : {}),
});
