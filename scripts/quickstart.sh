#!/usr/bin/env bash
# Starts the whole platform on this machine, in one command:
#   install (pnpm if missing) -> build -> Redis and PostgreSQL up -> database `strata` ->
#   migrations -> embedded S3 (unless S3_ENDPOINT is set) -> the four services, logs prefixed.
# Ctrl-C (or SIGTERM) stops everything. Local state lives in .strata/ (gitignored).
#
# Uses whatever platform variables are already set (see the README's configuration table);
# unset, it picks local defaults: Redis at 127.0.0.1:6379, PostgreSQL at 127.0.0.1:5432
# (database `strata`, user postgres), embedded S3 on 127.0.0.1:4569, pretty logs.
set -euo pipefail

LOG_TAG=quickstart
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$REPO_ROOT"
mkdir -p .strata

ensure_pnpm

log "installing dependencies (pnpm install --frozen-lockfile)"
pnpm_install

# Only what runs: the four apps, the migrations and the embedded S3, with their dependencies.
log "building the services (turbo)"
pnpm turbo run build --output-logs=errors-only \
  --filter='./apps/*...' --filter=./packages/db... --filter=./packages/embedded-s3... </dev/null

# Local dependencies, only when the user did not point us somewhere else.
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-cli >/dev/null 2>&1 || warn "redis-cli not found: cannot check Redis"
  ensure_redis || warn "continuing without a confirmed Redis; services will not become ready"
fi

if [ -z "${DATABASE_URL:-}" ]; then
  if command -v pg_isready >/dev/null 2>&1; then
    ensure_postgres || warn "continuing without a confirmed PostgreSQL"
  else
    warn "pg_isready not found: cannot check PostgreSQL"
  fi
  if command -v psql >/dev/null 2>&1; then
    if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'strata'" 2>/dev/null || true)" != "1" ]; then
      log "creating database strata"
      psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE strata' ||
        warn "could not create database strata"
    fi
  else
    warn "psql not found: cannot create database strata"
  fi
  export DATABASE_URL="postgresql://postgres@127.0.0.1:5432/strata"
fi

log "applying migrations"
node packages/db/dist/cli/migrate.js

# The orchestrator replaces this shell, so Ctrl-C and SIGTERM reach it directly.
exec node scripts/quickstart/run-platform.mjs
