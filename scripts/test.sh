#!/usr/bin/env bash
# Every check and every test of the repository, in one command:
#   install -> build -> pnpm check (prettier, eslint, tsc) -> unit -> integration -> e2e
# Jest results of each package and tier land in .strata/test-results/; the last line printed is
# `N passed, N failed, N skipped` (CI parses it). Exits non-zero if anything failed.
#
# Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 for the integration and e2e
# tiers (.ci/run starts them). Reads no stdin.
#
# Knobs (environment): STRATA_TEST_TIERS ("unit integration e2e"), STRATA_UNIT_CONCURRENCY (2),
# STRATA_TIER_TIMEOUT_UNIT / _INTEGRATION / _E2E (seconds: 900 / 1500 / 1500),
# STRATA_TEST_E2E_CLUSTER=0 skips the e2e suites on Redis Cluster (STRATA_TIER_TIMEOUT_E2E_CLUSTER: 900).
set -uo pipefail
exec </dev/null

LOG_TAG=test
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$REPO_ROOT"

RESULTS="$REPO_ROOT/.strata/test-results"
REPORTER="$REPO_ROOT/scripts/test/jest-results-reporter.cjs"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
started_all=$SECONDS

# run_step NAME CMD... : runs, records `NAME<TAB>exit<TAB>seconds` in steps.tsv.
run_step() {
  local name=$1 started=$SECONDS code
  shift
  log "=== $name: $*"
  "$@"
  code=$?
  printf '%s\t%s\t%s\n' "$name" "$code" "$((SECONDS - started))" >>"$RESULTS/steps.tsv"
  if [ "$code" -ne 0 ]; then warn "$name failed (exit $code)"; fi
  return "$code"
}

finish() {
  log "total time: $((SECONDS - started_all))s"
  node "$REPO_ROOT/scripts/test/summarize.mjs" "$RESULTS"
  exit $?
}

ensure_pnpm
run_step install pnpm_install || finish
# A package that does not build is a failure, but the other packages' tests still run (the
# affected test tasks fail or leave no report, and count as failures too).
run_step build pnpm turbo run build --continue
run_step check pnpm check

for tier in ${STRATA_TEST_TIERS:-unit integration e2e}; do
  case "$tier" in
    unit)
      concurrency="${STRATA_UNIT_CONCURRENCY:-2}"
      limit="${STRATA_TIER_TIMEOUT_UNIT:-900}"
      ;;
    integration)
      concurrency=1
      limit="${STRATA_TIER_TIMEOUT_INTEGRATION:-1500}"
      ;;
    e2e)
      concurrency=1
      limit="${STRATA_TIER_TIMEOUT_E2E:-1500}"
      ;;
    *)
      warn "unknown tier $tier"
      continue
      ;;
  esac
  # What should report, fixed before the run (the summary flags packages that did not).
  pnpm turbo run "test:$tier" --dry=json >"$RESULTS/$tier.dry.json" 2>/dev/null || true
  # --continue: one failing package does not hide the results of the others. The reporter is
  # passed to every package's jest through turbo (`--` arguments go to the test tasks only).
  run_step "test:$tier" timeout --kill-after=30s "$limit" \
    pnpm turbo run "test:$tier" --continue --concurrency="$concurrency" -- \
    --reporters=default --reporters="$REPORTER"
  # The apps' e2e suites again on a real 3-primary Redis Cluster (about 2-3 minutes). Its tests
  # are not in the counts (their reports would overwrite the standalone run's); a failure fails
  # the step, which the summary counts.
  if [ "$tier" = e2e ] && [ "${STRATA_TEST_E2E_CLUSTER:-1}" != 0 ]; then
    run_step e2e-cluster timeout --kill-after=30s "${STRATA_TIER_TIMEOUT_E2E_CLUSTER:-900}" \
      bash scripts/test-e2e-cluster.sh
  fi
done

finish
