// keyward keys check <key>: the offline format + checksum check a secret scanner or a human can run
// (exit 0 valid, 2 invalid with the reason). No database, no network.
import type { Command } from "commander";
import { checkFormat } from "../../keys/format.js";
import { CliError } from "../errors.js";
import { out, readAllStdin } from "../io.js";
import { FORMAT_PROBLEMS } from "../remote/key-problems.js";
import { withoutDatabase } from "../help.js";

export function registerKeysCheck(program: Command): void {
  const keys = withoutDatabase(program.command("keys")).description("work with raw keys offline");
  keys
    .command("check")
    .description("check a key's prefix, shape and checksum offline (exit 0 valid, 2 invalid)")
    .argument("[key]", "the key; omit it (or give -) to read it from stdin")
    .action(async (keyArg: string | undefined) => {
      const key = keyArg === undefined || keyArg === "-" ? (await readAllStdin()).trim() : keyArg;
      const problem = checkFormat(key);
      if (problem) throw CliError.usage(`invalid key: ${FORMAT_PROBLEMS[problem]}`);
      out(`valid: the format and checksum are right (…${key.slice(-4)}); whether it is active only the server knows`);
    });
}
