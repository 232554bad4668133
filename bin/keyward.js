#!/usr/bin/env node
// The `keyward` command: the compiled CLI (dist/, built by `npm ci`; scripts/build.mjs). In a source
// tree it first rebuilds dist/ if src/ changed since (a few milliseconds to check), so it never runs
// older code than the source.
import { ensureBuilt } from "../scripts/build.mjs";

try {
  ensureBuilt();
} catch (err) {
  process.stderr.write(
    `keyward: cannot build dist/ from src/ (run \`npm run build\` to see why): ${err instanceof Error ? err.message.split("\n")[0] : String(err)}\n`,
  );
  process.exit(1);
}
await import("../dist/cli/index.js");
