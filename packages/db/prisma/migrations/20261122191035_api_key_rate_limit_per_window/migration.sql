-- A key's rate limit counts requests per RATE_LIMIT_WINDOW (default 60 s) instead of per minute.
-- Written by migration:create, then edited to keep existing values (rename instead of drop/add):
-- with the default window a per-minute limit means the same number.

-- AlterTable
ALTER TABLE "api_keys" RENAME COLUMN "rate_limit_per_minute" TO "rate_limit";
