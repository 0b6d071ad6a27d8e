#!/bin/sh
# Stand-in for Prisma's native schema-engine, which this machine cannot download. `prisma generate`
# never runs it; anything that would (migrate, db push) must fail loudly instead of printing
# success and doing nothing. Migrations go through the wasm engine: `pnpm --filter @strata/db migrate`.
echo "no native schema-engine here: use 'pnpm --filter @strata/db migrate' / 'migration:create'" >&2
exit 1
