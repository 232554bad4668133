// keyward api-keys import --user <email> [file]: brings keys from another system by their SHA-256
// hashes (JSON Lines: {hash, label, created, last4}), so their holders keep working without a new
// key. Every line is checked first; any problem → every problem listed, nothing written (exit 2).
// At most MAX_IMPORT_LINES keys per run; progress on stderr in a terminal or with --progress.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { MAX_IMPORT_LINES, parseImport, type ImportProblem } from "../../keys/import.js";
import { CliError } from "../errors.js";
import { requireUser, withServices } from "../context.js";
import { note, out, printJson, readAllStdin } from "../io.js";
import { progressOn } from "../progress.js";

interface ImportOptions {
  user: string;
  dryRun?: boolean;
  json?: boolean;
  /** --progress / --no-progress; unset: on when stderr is a terminal. */
  progress?: boolean;
}

/** Hashes checked against the database per query, and per progress update. */
const CHECK_BATCH = 1000;

function refuse(problems: readonly ImportProblem[]): never {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  for (const p of sorted) note(`line ${p.line}: ${p.message}`);
  const lines = new Set(sorted.map((p) => p.line)).size;
  throw CliError.usage(`${lines} invalid line${lines === 1 ? "" : "s"}; nothing was imported`);
}

export function registerApiKeysImport(program: Command): void {
  const apiKeys = program.commands.find((c) => c.name() === "api-keys") ?? program.command("api-keys");
  apiKeys
    .command("import")
    .description(
      `import keys from another system by SHA-256 hash (JSON Lines on stdin or in a file), all or nothing; at most ${MAX_IMPORT_LINES} keys per run`,
    )
    .argument("[file]", "a JSON Lines file (default: stdin)")
    .requiredOption("--user <email>", "the owner of the imported keys")
    .option("--dry-run", "check every line and report, but write nothing")
    .option("--json", "print the imported keys as JSON")
    .option("--progress", "show progress on stderr even when it is not a terminal (default: only in a terminal)")
    .option("--no-progress", "never show progress")
    .action(async (file: string | undefined, options: ImportOptions, cmd: Command) => {
      let text: string;
      try {
        text = file && file !== "-" ? readFileSync(file, "utf8") : await readAllStdin();
      } catch (err) {
        throw CliError.usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const progress = progressOn(process.stderr, options.progress ?? process.stderr.isTTY === true);
      const { rows, problems } = parseImport(text);
      if (problems.length) refuse(problems);
      if (rows.length === 0) throw CliError.usage("no keys to import: the input is empty");
      progress.step(`Checked ${rows.length} line${rows.length === 1 ? "" : "s"}; opening the database…`);
      const result = await withServices(cmd, async (services) => {
        const owner = await requireUser(services, options.user);
        const conflicts: ImportProblem[] = [];
        progress.step(`Checking the hashes against the database: 0/${rows.length}`);
        for (let i = 0; i < rows.length; i += CHECK_BATCH) {
          conflicts.push(...(await services.keys.conflicts(rows.slice(i, i + CHECK_BATCH))));
          progress.update(`Checking the hashes against the database: ${Math.min(i + CHECK_BATCH, rows.length)}/${rows.length}`);
        }
        if (conflicts.length) refuse(conflicts);
        if (options.dryRun) return { owner, imported: [] };
        progress.step(`Writing ${rows.length} key${rows.length === 1 ? "" : "s"} in one transaction (all or none)…`);
        return { owner, imported: await services.keys.importHashes(owner.id, rows) };
      }).catch((err: unknown) => {
        progress.abort();
        throw err;
      });
      progress.end();
      if (options.dryRun) {
        if (options.json) printJson({ dryRun: true, valid: rows.length });
        else
          out(
            `Dry run: ${rows.length} key${rows.length === 1 ? "" : "s"} would be imported for ${result.owner.email}; nothing was written.`,
          );
        return;
      }
      if (options.json) printJson(result.imported);
      else
        out(
          `Imported ${result.imported.length} key${result.imported.length === 1 ? "" : "s"} for ${result.owner.email} (source: Unknown).`,
        );
    });
}
