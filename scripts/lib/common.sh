# Shared by scripts/quickstart.sh and scripts/test.sh (sourced, not run).

export TURBO_TELEMETRY_DISABLED=1

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '[%s] %s\n' "${LOG_TAG:-strata}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${LOG_TAG:-strata}" "$*" >&2; }

# pnpm 10 from npm when missing (corepack fails signature checks on some registries).
ensure_pnpm() {
  if ! command -v pnpm >/dev/null 2>&1; then
    log "pnpm not found; installing it with: npm i -g pnpm@10"
    npm i -g pnpm@10
  fi
  local major
  major="$(pnpm --version | cut -d. -f1)"
  if [ "$major" != "10" ]; then
    warn "pnpm $(pnpm --version) found; this repository is tested with pnpm 10"
  fi
}

# `pnpm install --frozen-lockfile`, serialised with any other install in this tree (several
# people, a quickstart and a test run may share one checkout) when flock exists. No prompt:
# without a TTY pnpm would abort instead of asking to purge a node_modules it did not create.
pnpm_install() {
  local cmd=(pnpm install --frozen-lockfile --config.confirmModulesPurge=false)
  if command -v flock >/dev/null 2>&1; then
    flock /tmp/strata-pnpm.lock "${cmd[@]}" </dev/null
  else
    "${cmd[@]}" </dev/null
  fi
}

# Local Redis and Postgres, started the way ENVIRONMENT.md describes if they do not answer.
# Best effort: prints what failed and returns non-zero, the caller decides.
ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  log "Redis does not answer on 127.0.0.1:6379; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  warn "Redis still does not answer on 127.0.0.1:6379"
  return 1
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -q 2>/dev/null; then return 0; fi
  log "PostgreSQL does not answer on 127.0.0.1:5432; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -q 2>/dev/null && return 0
    sleep 0.2
  done
  warn "PostgreSQL still does not answer on 127.0.0.1:5432"
  return 1
}
