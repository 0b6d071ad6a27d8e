// Reads what scripts/test.sh left in .strata/test-results (one JSON per package and tier from
// jest-results-reporter.cjs, plus steps.tsv with the exit code of every step) and prints the
// summary. Its last line is the one CI parses: `N passed, N failed, N skipped`.
// Exit code: 0 when nothing failed, 1 otherwise.
//
// A failure is a failed test, a test file that could not run, a package whose test task left no
// report (crashed, timed out), or a step that failed without a failed test to show for it
// (install, build, `pnpm check`, a tier that timed out).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = process.argv[2] ?? path.join(repoRoot, '.strata/test-results');
const TIERS = ['unit', 'integration', 'e2e'];

/** @returns {{ name: string, code: number, seconds: number }[]} */
function readSteps() {
  const file = path.join(resultsDir, 'steps.tsv');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, code, seconds] = line.split('\t');
      return { name, code: Number(code), seconds: Number(seconds) };
    });
}

function readReports(tier) {
  const dir = path.join(resultsDir, tier);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
}

/**
 * Packages that have a script for the tier, as turbo saw them before the tier ran
 * (`<tier>.dry.json` from test.sh), or as it sees them now.
 */
function expectedPackages(tier) {
  try {
    const saved = path.join(resultsDir, `${tier}.dry.json`);
    const out =
      existsSync(saved) && readFileSync(saved, 'utf8').trim()
        ? readFileSync(saved, 'utf8')
        : execFileSync(
            path.join(repoRoot, 'node_modules/.bin/turbo'),
            ['run', `test:${tier}`, '--dry=json'],
            {
              cwd: repoRoot,
              encoding: 'utf8',
              stdio: ['ignore', 'pipe', 'ignore'],
              env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
            },
          );
    return JSON.parse(out.slice(out.indexOf('{')))
      .tasks.filter((t) => t.task === `test:${tier}` && t.command && t.command !== '<NONEXISTENT>')
      .map((t) => t.package);
  } catch {
    return undefined;
  }
}

const steps = readSteps();
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
const warnings = [];
const table = [];

for (const tier of TIERS) {
  const step = steps.find((s) => s.name === `test:${tier}`);
  if (!step) continue;
  const reports = readReports(tier);
  let tierFailures = 0;
  for (const r of reports) {
    const runErrors = r.numRuntimeErrorTestSuites ?? 0;
    // A run the reporter's watchdog ended has no counts: it is one failure.
    const f = r.numFailedTests + runErrors + (r.timedOut ? 1 : 0);
    passed += r.numPassedTests;
    failed += f;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    tierFailures += f;
    if (r.numTotalTests > 0 || f > 0) {
      table.push(
        `  ${tier.padEnd(11)} ${r.package.padEnd(28)} ${String(r.numPassedTests).padStart(4)} passed ${String(f).padStart(3)} failed ${String(r.numPendingTests + (r.numTodoTests ?? 0)).padStart(3)} skipped`,
      );
    }
    if (r.forcedExit) {
      warnings.push(
        `${tier} ${r.package}: Jest did not exit after its tests (leaked handles); it was ended`,
      );
    }
    for (const x of r.failures ?? []) {
      problems.push(`${tier} ${r.package} ${x.file}: ${x.name}`);
    }
  }
  const expected = expectedPackages(tier);
  const reported = new Set(reports.map((r) => r.package));
  const missing = (expected ?? []).filter((p) => !reported.has(p));
  for (const p of missing) {
    failed += 1;
    tierFailures += 1;
    problems.push(`${tier} ${p}: no test report (the test task crashed, was killed or timed out)`);
  }
  if (step.code !== 0 && tierFailures === 0) {
    failed += 1;
    problems.push(`test:${tier}: exited ${step.code} without a failed test to show for it`);
  }
}

if (steps.length === 0) {
  failed += 1;
  problems.push(`no steps recorded in ${resultsDir}/steps.tsv: did scripts/test.sh run?`);
}
for (const s of steps) {
  if (s.name.startsWith('test:') || s.code === 0) continue;
  failed += 1;
  problems.push(`${s.name}: failed (exit ${s.code})`);
}

console.log('');
console.log('==================== test summary ====================');
for (const s of steps) {
  console.log(
    `  step ${s.name.padEnd(18)} ${s.code === 0 ? 'ok    ' : `FAILED (exit ${s.code})`} ${s.seconds}s`,
  );
}
if (table.length > 0) {
  console.log('');
  for (const line of table) console.log(line);
}
if (warnings.length > 0) {
  console.log('');
  console.log('Warnings:');
  for (const w of warnings) console.log(`  - ${w}`);
}
if (problems.length > 0) {
  console.log('');
  console.log('Failures:');
  for (const p of problems.slice(0, 100)) console.log(`  - ${p}`);
  if (problems.length > 100) console.log(`  ... and ${problems.length - 100} more`);
}
console.log('');
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
