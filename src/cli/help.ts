// How `keyward … --help` reads: required options say so, and the global --database-url is listed
// only on the commands that open a database (not on `auth …`, `keys check`, `mcp-config`).
import { Help, type Command, type Option } from "commander";

const noDatabase = new WeakSet<Command>();

/** Marks a command (and so its subcommands) as one that never opens the database. */
export function withoutDatabase<T extends Command>(cmd: T): T {
  noDatabase.add(cmd);
  return cmd;
}

function opensNoDatabase(cmd: Command): boolean {
  for (let c: Command | null = cmd; c; c = c.parent) if (noDatabase.has(c)) return true;
  return false;
}

/** For `program.configureHelp(…)`: subcommands made with `.command()` inherit it. */
export const helpConfiguration: Partial<Help> = {
  showGlobalOptions: true,
  optionDescription(this: Help, option: Option): string {
    const text = Help.prototype.optionDescription.call(this, option);
    return option.mandatory ? `${text} (required)` : text;
  },
  visibleGlobalOptions(this: Help, cmd: Command): Option[] {
    const options = Help.prototype.visibleGlobalOptions.call(this, cmd);
    return opensNoDatabase(cmd) ? options.filter((o) => o.attributeName() !== "databaseUrl") : options;
  },
};
