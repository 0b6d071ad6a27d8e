// Demo-seeding hook of the quickstart. run-platform.mjs calls seedDemo() once every service
// answers /readyz, and prints the lines it returns under the URLs. Set STRATA_SKIP_SEED=1 to
// skip it. A throw stops the platform (exit 1): a quickstart that half-works is worse.
//
// Not implemented yet. Later issues fill it in, idempotently (a second quickstart must not fail
// or duplicate anything):
//   1. push the demo models (the ONNX models from npm listed in ENVIRONMENT.md) to S3 with
//      `strata models push DIR --model NAME` (packages/cli), which also registers the versions;
//   2. create a demo workspace and an API key, kept in .strata/demo-api-key so reruns reuse it;
//   3. return a ready-to-paste curl against the gateway.

/**
 * @typedef {object} SeedContext
 * @property {string} repoRoot            absolute path of the repository
 * @property {Record<string, string | undefined>} env  the environment the services run with
 *   (DATABASE_URL, REDIS_URL, S3_* ... all set)
 * @property {Record<string, string>} urls   base URL per service name (`urls.gateway`)
 * @property {string} s3Endpoint          S3 endpoint in use (embedded or S3_ENDPOINT)
 * @property {(line: string) => void} log  prints a `[quickstart]` line
 */

/**
 * @param {SeedContext} _ctx
 * @returns {Promise<{ lines: string[] } | undefined>} lines to print, e.g. the demo curl
 */
export async function seedDemo(_ctx) {
  return undefined;
}
