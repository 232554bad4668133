// keyward api-keys import --user <email> [file]: brings keys from another system by their SHA-256
// hashes (JSON Lines: {hash, label, created, last4}), so their holders keep working without a new
// key. Every line is checked first; any problem → every problem listed, nothing written (exit 2).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseImport, type ImportProblem } from "../../keys/import.js";
import { CliError } from "../errors.js";
import { requireUser, withServices } from "../context.js";
import { note, out, printJson, readAllStdin } from "../io.js";

interface ImportOptions {
  user: string;
  dryRun?: boolean;
  json?: boolean;
}

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
    .description("import keys from another system by SHA-256 hash (JSON Lines on stdin or in a file), all or nothing")
    .argument("[file]", "a JSON Lines file (default: stdin)")
    .requiredOption("--user <email>", "the owner of the imported keys")
    .option("--dry-run", "check every line and report, but write nothing")
    .option("--json", "print the imported keys as JSON")
    .action(async (file: string | undefined, options: ImportOptions, cmd: Command) => {
      let text: string;
      try {
        text = file && file !== "-" ? readFileSync(file, "utf8") : await readAllStdin();
      } catch (err) {
        throw CliError.usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const { rows, problems } = parseImport(text);
      if (problems.length) refuse(problems);
      if (rows.length === 0) throw CliError.usage("no keys to import: the input is empty");
      const result = await withServices(cmd, async (services) => {
        const owner = await requireUser(services, options.user);
        const conflicts = await services.keys.conflicts(rows);
        if (conflicts.length) refuse(conflicts);
        return { owner, imported: options.dryRun ? [] : await services.keys.importHashes(owner.id, rows) };
      });
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
