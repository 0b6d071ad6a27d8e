-- The telemetry outbox for exactly-once usage: workspace and api key hash stored as the emitter
-- sent them, the window's end, and the ids of the `usage` jobs already counted.
-- Written by migration:create, then edited to keep existing rows (rename instead of drop/add).

-- DropIndex
DROP INDEX "usage_aggregates_workspace_id_window_start_idx";

-- AlterTable
ALTER TABLE "usage_aggregates" RENAME COLUMN "workspace_id" TO "workspace";
ALTER TABLE "usage_aggregates" ALTER COLUMN "workspace" SET DATA TYPE TEXT,
ALTER COLUMN "api_key_hash" SET DATA TYPE TEXT,
ADD COLUMN     "window_end" TIMESTAMPTZ(3);
-- Rows from before this migration (nothing wrote any) end their window at their latest event.
UPDATE "usage_aggregates" SET "window_end" = "stopped_at";
ALTER TABLE "usage_aggregates" ALTER COLUMN "window_end" SET NOT NULL;

-- CreateTable
CREATE TABLE "usage_consumed_events" (
    "job_id" TEXT NOT NULL,
    "consumed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_consumed_events_pkey" PRIMARY KEY ("job_id")
);

-- CreateIndex
CREATE INDEX "usage_consumed_events_consumed_at_idx" ON "usage_consumed_events"("consumed_at");

-- CreateIndex
CREATE INDEX "usage_aggregates_workspace_window_start_idx" ON "usage_aggregates"("workspace", "window_start");

-- CreateIndex
CREATE INDEX "usage_aggregates_window_start_idx" ON "usage_aggregates"("window_start");
