// Jest reporter that scripts/test.sh adds to every test run (`--reporters`): writes the run's
// counts and failures to .strata/test-results/<tier>/<package>.json, the same numbers as
// `jest --json`, one file per package and tier, so the summary needs no parsing of logs.
const fs = require('node:fs');
const path = require('node:path');

const RESULTS_DIR = path.resolve(__dirname, '../../.strata/test-results');
// Jest waits forever for handles a test leaked (sockets, timers, native threads). After this long
// the run is ended with the exit code Jest chose, and the report says so: one leaky package
// must not hang the whole test run.
const EXIT_GRACE_MS = 15_000;
// A package's run that takes longer than this is stuck (every test and hook has its own
// timeout, so this only trips on a hang outside them); it is ended and reported as a failure so
// the packages after it still run within the tier's time budget.
const RUN_LIMIT_MS = { unit: 5 * 60_000, integration: 10 * 60_000, e2e: 15 * 60_000 };

function tierOf(globalConfig) {
  const selected = globalConfig.selectProjects ?? [];
  if (selected.length > 0) return selected.join('+');
  const i = process.argv.indexOf('--selectProjects');
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : 'all';
}

function packageName(rootDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8')).name;
  } catch {
    return path.basename(rootDir);
  }
}

class StrataResultsReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
    this.pkg = packageName(globalConfig.rootDir);
    this.tier = tierOf(globalConfig);
    this.file = path.join(
      RESULTS_DIR,
      this.tier,
      `${this.pkg.replace(/^@/, '').replace(/[^A-Za-z0-9._-]/g, '__')}.json`,
    );
  }

  write(out) {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, `${JSON.stringify(out, null, 2)}\n`);
  }

  onRunStart() {
    const limit = RUN_LIMIT_MS[this.tier] ?? 15 * 60_000;
    this.watchdog = setTimeout(() => {
      process.stderr.write(
        `\n[test] ${this.pkg} (${this.tier}): tests still running after ${limit / 1000}s; ending the run as failed.\n`,
      );
      this.write({
        package: this.pkg,
        tier: this.tier,
        rootDir: this.globalConfig.rootDir,
        success: false,
        timedOut: true,
        numTotalTests: 0,
        numPassedTests: 0,
        numFailedTests: 0,
        numPendingTests: 0,
        numTodoTests: 0,
        numRuntimeErrorTestSuites: 0,
        failures: [{ file: '', name: `(run timed out after ${limit / 1000}s)`, message: '' }],
      });
      process.exit(1);
    }, limit);
    this.watchdog.unref();
  }

  onRunComplete(_contexts, results) {
    clearTimeout(this.watchdog);
    const rootDir = this.globalConfig.rootDir;
    const pkg = this.pkg;
    const tier = this.tier;
    const failures = [];
    for (const suite of results.testResults) {
      const file = path.relative(rootDir, suite.testFilePath);
      if (suite.testExecError) {
        failures.push({
          file,
          name: '(suite failed to run)',
          message: suite.testExecError.message,
        });
      }
      for (const t of suite.testResults) {
        if (t.status === 'failed') {
          failures.push({
            file,
            name: t.fullName,
            message: (t.failureMessages ?? []).join('\n').slice(0, 2000),
          });
        }
      }
    }
    const out = {
      package: pkg,
      tier,
      rootDir,
      success: results.success,
      numTotalTests: results.numTotalTests,
      numPassedTests: results.numPassedTests,
      numFailedTests: results.numFailedTests,
      numPendingTests: results.numPendingTests,
      numTodoTests: results.numTodoTests,
      numTotalTestSuites: results.numTotalTestSuites,
      numFailedTestSuites: results.numFailedTestSuites,
      numRuntimeErrorTestSuites: results.numRuntimeErrorTestSuites,
      startTime: results.startTime,
      failures,
    };
    this.write(out);

    // unref: a run that exits on its own is not held up by this timer.
    setTimeout(() => {
      process.stderr.write(
        `\n[test] ${pkg} (${tier}): Jest did not exit ${EXIT_GRACE_MS / 1000}s after its tests ` +
          'finished (leaked handles; find them with --detectOpenHandles); ending it now.\n',
      );
      this.write({ ...out, forcedExit: true });
      process.exit();
    }, EXIT_GRACE_MS).unref();
  }
}

module.exports = StrataResultsReporter;
