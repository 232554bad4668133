// Command-line options every benchmark shares: --help, positive numbers with a default, the
// backends to run (sqlite, postgresql) and the PostgreSQL admin URL; each benchmark lists its own.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULT_PG_ADMIN_URL, type Backend } from "./database.js";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** What each option was given as; absent ones are undefined. */
export type BenchArgs = Record<string, string | boolean | undefined>;

/** The values of `argv` for `options` (plus --help, which prints `help` and exits). Unknown options throw. */
export function parseBenchArgs(argv: string[], help: string, options: OptionsConfig): BenchArgs {
  const { values } = parseArgs({ args: argv, options: { help: { type: "boolean" }, ...options } });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    process.exit(0);
  }
  return values as BenchArgs;
}

/** A positive number given as --name, or `fallback`; `max` (optional) bounds it. */
export function positive(value: string | boolean | undefined, name: string, fallback: number, max = Infinity): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new Error(`--${name} must be a positive number${max < Infinity ? ` up to ${max}` : ""}, got ${String(value)}`);
  return n;
}

/** --backends: a comma-separated list of sqlite and postgresql (default both). */
export function backendsOf(value: string | boolean | undefined): Backend[] {
  const backends = (typeof value === "string" ? value : "sqlite,postgresql").split(",").map((s) => s.trim());
  for (const b of backends) if (b !== "sqlite" && b !== "postgresql") throw new Error(`unknown backend ${b}`);
  return backends as Backend[];
}

/** --pg-url, else BENCH_PG_URL, else the local server. */
export const pgUrlOf = (value: string | boolean | undefined): string =>
  (typeof value === "string" ? value : undefined) ?? process.env.BENCH_PG_URL ?? DEFAULT_PG_ADMIN_URL;
