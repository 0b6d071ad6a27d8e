# syntax=docker/dockerfile:1.7
# One-shot image that applies the committed migrations of @strata/db (compose service `migrate`):
#   docker build -f infra/docker/migrate.Dockerfile -t strata/migrate .
#   docker run --rm -e DATABASE_URL=postgresql://... strata/migrate

FROM node:24-bookworm-slim AS build
ENV PNPM_HOME=/pnpm \
    PATH=/pnpm:$PATH \
    TURBO_TELEMETRY_DISABLED=1 \
    CI=true
ARG PNPM_VERSION=10.34.9
RUN npm install -g pnpm@${PNPM_VERSION} && pnpm config set --global store-dir /pnpm/store
WORKDIR /repo

COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=strata-pnpm-store,target=/pnpm/store pnpm fetch

COPY . .
RUN --mount=type=cache,id=strata-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --offline
RUN pnpm turbo run build --filter=./packages/db...
RUN --mount=type=cache,id=strata-pnpm-store,target=/pnpm/store \
    pnpm --filter=./packages/db --prod deploy --legacy /out \
 && rm -rf /out/src /out/test /out/.turbo /out/jest.config.js

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out ./
USER node
# Reads DATABASE_URL; exits 0 once every migration is applied (a no-op when none is pending).
CMD ["node", "dist/cli/migrate.js"]
