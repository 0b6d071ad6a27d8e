-- DropIndex
DROP INDEX "models_workspace_id_name_key";

-- CreateIndex
CREATE UNIQUE INDEX "models_name_key" ON "models"("name");

-- CreateIndex
CREATE INDEX "models_workspace_id_idx" ON "models"("workspace_id");
