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

/** What a keyed load benchmark (real-request.ts, usage.ts) is run with: real keys round-robin, in rounds. */
export interface KeyedLoadOptions {
  backends: Backend[];
  keys: number;
  rounds: number;
  roundSeconds: number;
  warmup: number;
  connections: number;
  pgUrl: string;
  out?: string;
}

/** The options behind KeyedLoadOptions, for parseBenchArgs beside a benchmark's own. */
export const KEYED_LOAD_ARGS = {
  backends: { type: "string" },
  keys: { type: "string" },
  rounds: { type: "string" },
  "round-duration": { type: "string" },
  warmup: { type: "string" },
  connections: { type: "string" },
  "pg-url": { type: "string" },
  out: { type: "string" },
} satisfies OptionsConfig;

/** KeyedLoadOptions from parsed values; `zeroRounds`: --rounds 0 is allowed (no timed rounds). */
export function keyedLoadOptionsOf(values: BenchArgs, { zeroRounds = false } = {}): KeyedLoadOptions {
  return {
    backends: backendsOf(values.backends),
    keys: Math.round(positive(values.keys, "keys", 1000)),
    rounds: zeroRounds && values.rounds === "0" ? 0 : Math.round(positive(values.rounds, "rounds", 10)),
    roundSeconds: positive(values["round-duration"], "round-duration", 2),
    warmup: positive(values.warmup, "warmup", 2),
    connections: Math.round(positive(values.connections, "connections", 10)),
    pgUrl: pgUrlOf(values["pg-url"]),
    out: typeof values.out === "string" ? values.out : undefined,
  };
}
