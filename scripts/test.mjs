// `npm test`: format check (Prettier) and lint (ESLint), typecheck, build dist/ (the compiled code the tests'
// child processes run), then the whole suite on SQLite and the files that need it again on PostgreSQL.
// The PostgreSQL pass skips the files test/backends.json lists (no database, or nothing backend-specific; the
// lists are checked by test/backends.test.ts), so every other file, a new one included, runs on both.
// PostgreSQL comes from TEST_DATABASE_URL (default: the local server, database `test`; each run
// makes and drops its own databases). Outside CI a missing PostgreSQL skips that pass with a warning;
// in CI (CI=true) it is an error. Extra arguments go to vitest (e.g. `npm test -- test/api.test.ts`) on both
// passes, as given.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

const args = process.argv.slice(2);
const pgUrl = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
const inCi = process.env.CI === "true";
const out = mkdtempSync(path.join(tmpdir(), "keyward-results-"));

function run(cmd, cmdArgs, env = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit", env: { ...process.env, ...env } });
  return r.status ?? 1;
}

async function postgresReachable() {
  const c = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The test files the PostgreSQL pass runs: all but those test/backends.json lists. */
function postgresFiles() {
  const lists = JSON.parse(readFileSync("test/backends.json", "utf8"));
  const skipped = new Set([...Object.keys(lists.noDatabase), ...Object.keys(lists.oneBackend)]);
  return readdirSync("test", { recursive: true })
    .map((f) => `test/${f.split(path.sep).join("/")}`)
    .filter((f) => f.endsWith(".test.ts") && !skipped.has(f))
    .sort();
}

function vitest(label, env, files) {
  const file = path.join(out, `${label}.json`);
  console.log(`\n=== Test suite on ${label}${files ? ` (${files.length} files that use the database; test/backends.json)` : ""} ===\n`);
  const status = run(
    process.execPath,
    [
      "node_modules/vitest/vitest.mjs",
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${file}`,
      ...(files ?? []),
      ...args,
    ],
    env,
  );
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const r = JSON.parse(readFileSync(file, "utf8"));
    // Failed tests, plus files that failed without a failed test (an import or a hook that threw).
    // Not numFailedTestSuites: it counts every describe block around a failed test as well.
    const brokenFiles = (r.testResults ?? []).filter(
      (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
    ).length;
    counts = { passed: r.numPassedTests, failed: r.numFailedTests + brokenFiles, skipped: r.numPendingTests + (r.numTodoTests ?? 0) };
  } catch {
    counts.failed = Math.max(1, counts.failed);
  }
  if (status !== 0 && counts.failed === 0) counts.failed = 1;
  return { label, status, ...counts };
}

// Style first: a finding fails `npm test` in seconds, before the suites. `npm run format` fixes most of them.
console.log("=== Format (prettier --check) ===");
if (run(process.execPath, ["node_modules/prettier/bin/prettier.cjs", "--check", "--log-level", "warn", "."]) !== 0) {
  console.log("format: 0 passed, 1 failed (run `npm run format`)");
  process.exit(1);
}
console.log("=== Lint (eslint) ===");
if (run(process.execPath, ["node_modules/eslint/bin/eslint.js", "."]) !== 0) {
  console.log("lint: 0 passed, 1 failed (`npm run lint` lists the findings)");
  process.exit(1);
}

console.log("=== Typecheck (tsc --noEmit) ===");
if (run(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit"]) !== 0) {
  console.log("typecheck: 0 passed, 1 failed");
  process.exit(1);
}

// The suite spawns dist/main.js and bin/keyward.js: build them from the source under test (the
// spawners also rebuild a stale dist/, scripts/build.mjs; this makes it one build, before any test).
console.log("=== Build (scripts/build.mjs) ===");
if (run(process.execPath, ["scripts/build.mjs"]) !== 0) {
  console.log("build: 0 passed, 1 failed");
  process.exit(1);
}

const results = [vitest("sqlite", { TEST_DATABASE_URL: "" })];
const reachable = await postgresReachable();
if (reachable === true) {
  results.push(vitest("postgresql", { TEST_DATABASE_URL: pgUrl }, args.length ? undefined : postgresFiles()));
} else if (inCi) {
  console.error(`PostgreSQL at ${pgUrl} is not reachable (${reachable}); CI runs the suite on both backends.`);
  results.push({ label: "postgresql", status: 1, passed: 0, failed: 1, skipped: 0 });
} else {
  console.warn(
    `\nWARNING: PostgreSQL at ${pgUrl} is not reachable (${reachable}): the PostgreSQL pass was skipped. Set TEST_DATABASE_URL to run it.`,
  );
}
rmSync(out, { recursive: true, force: true });

console.log("");
for (const r of results) console.log(`${r.label}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
const total = results.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }), {
  passed: 0,
  failed: 0,
  skipped: 0,
});
console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(results.every((r) => r.status === 0) ? 0 : 1);
