#!/usr/bin/env bash
# The end-to-end suites against a real 3-primary Redis Cluster on loopback (issue #5: "the
# end-to-end suite passes unchanged"). Starts the cluster with @strata/testing's fixture, hands
# its nodes to the tests through STRATA_TEST_REDIS_CLUSTER_NODES (spawned services get
# REDIS_CLUSTER_NODES from serviceEnv(); the tests' own clients come from testRedisClient()), and
# runs the built apps' e2e specs with jest. Build first (pnpm build).
#
# Knobs: STRATA_CLUSTER_E2E_APPS (default "gateway inference-worker model-loader"); extra
# arguments go to every jest run. The lifecycle suites (their own redis-server) and the Sentinel
# failover suite (its own Sentinel set) are skipped: they do not use the shared Redis.
set -euo pipefail
exec </dev/null
cd "$(dirname "${BASH_SOURCE[0]}")/.."

apps="${STRATA_CLUSTER_E2E_APPS:-gateway inference-worker model-loader}"
export STRATA_CLUSTER_E2E_APPS="$apps"
exec node packages/testing/dist/cli/with-redis-cluster.js bash -c '
  set -uo pipefail
  status=0
  for app in $STRATA_CLUSTER_E2E_APPS; do
    echo "=== e2e on Redis Cluster: $app"
    (cd "apps/$app" && npx jest --selectProjects e2e --runInBand --forceExit \
      --testPathIgnorePatterns "/lifecycle\.e2e-spec\.ts$" "/redis-sentinel-failover\.e2e-spec\.ts$" \
      -- "$@") || status=1
  done
  exit $status
' e2e-cluster "$@"
