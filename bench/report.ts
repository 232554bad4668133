// Turns the collected numbers into bench/RESULTS.md, with each target judged met or not.
import os from "node:os";
import { readFileSync } from "node:fs";
import type { Backend } from "./database.js";
import { medianBy, type LoadResult } from "./load.js";
import type { Timed } from "./oauth-client.js";
import type { VerifyMicro } from "./verify-micro.js";
import { redactDatabaseUrl } from "../src/db/client.js";

export interface ScalePoint {
  keys: number;
  seedSeconds: number;
  open: LoadResult;
  key: LoadResult;
  invalid: LoadResult;
  unknown: LoadResult;
  revoked: LoadResult;
  /** valid-key req/s ÷ open req/s of each round (taking turns; older results: two runs back to back), in round order. */
  roundRatios?: number[];
  /** Server CPU time (all threads) per response in each round's open and valid-key runs, µs. */
  roundCpuUs?: { open: number[]; key: number[] };
  /**
   * With an awake client (the default), the first key count also runs each round's pair with a
   * client that sleeps between responses: valid-key ÷ open of those, and their median runs.
   */
  sleepingRatios?: number[];
  sleepingOpen?: LoadResult;
  sleepingKey?: LoadResult;
  /**
   * Calibration (first key count of each backend): /__bench/deferred req/s ÷ open req/s, in rounds
   * of their own. The open handler answered one event-loop phase later: no work added, only timing.
   */
  deferredRatios?: number[];
  /**
   * The method against itself (first key count, rounds taking turns): open ÷ open, the same route
   * on both sides of each round. ≈ 100 % with a narrow spread shows the rounds neither favour one
   * side nor drown a few % in noise.
   */
  selfRatios?: number[];
  /** Open and valid-key routes below saturation (one request at a time; older results: a fixed rate): latency without queueing. */
  fixedOpen?: LoadResult;
  fixedKey?: LoadResult;
  /** Server CPU time (all threads, /proc/<pid>/stat) per response during the fixed-rate runs, µs. */
  fixedCpuUs?: { open: number; key: number };
  /** keys.verify() in process, µs per call (bench/verify-micro.ts). */
  micro?: VerifyMicro;
  /** The valid key on an instance with VERIFY_CACHE_SIZE=0: every request reads the key row. */
  uncached?: LoadResult;
  /** Verification-cache counters over the valid-key runs on instance A. */
  cache?: { hits: number; misses: number; resets: number; changeReads?: number };
  /** Share of the machine's CPU time the hypervisor gave to other guests during this point's runs (Linux /proc/stat). */
  steal?: number;
  /** PostgreSQL only: two instances on one database, load split across both. */
  twoOpen?: LoadResult;
  twoKey?: LoadResult;
}

export interface LastUsedRun {
  label: string;
  keysUsed: number;
  intervalSeconds: number;
  seconds: number;
  requests: number;
  /** Requests per second asked of autocannon, and served. */
  offeredRate: number;
  servedRate: number;
  writes: number;
  /** Upper bound: keysUsed × (flush ticks in the window + 1). */
  bound: number;
}

export interface ShutdownCheck {
  keys: number;
  writesBeforeStop: number;
  exitCode: number | null;
  written: number;
  /** lastUsedAt at or after the time of the key's last request. */
  upToDate: number;
}

export interface RevocationCheck {
  where: string;
  nextStatus: number[];
  okSentAfterRevoke: number;
  revokeAt: number;
  lastOkSentAt: number | null;
  load: LoadResult;
}

export interface BackendResults {
  backend: Backend;
  version: string;
  scale: ScalePoint[];
  lastUsed: LastUsedRun[];
  shutdown?: ShutdownCheck;
  revocation: RevocationCheck[];
  flows?: Timed;
  tokens?: Timed;
  notes: string[];
}

export interface RunConfig {
  command: string;
  /** How the instances were started (results before 2026-12-02 17:00: dist/main.js with BENCH_ROUTES=true). */
  server?: string;
  quick: boolean;
  duration: number;
  warmup: number;
  rounds: number;
  /** Seconds per open / valid-key run of the rounds (older results: `duration`). */
  roundDuration?: number;
  /**
   * Milliseconds per turn: in each round the two routes take turns on the same connections (ABBA)
   * for roundDuration seconds each. Older results (no turns): one run per route, one after the other.
   */
  turnMs?: number;
  /** Latency rounds (fixedOpen / fixedKey) per scale point (older results: 1). */
  fixedRounds?: number;
  /**
   * The latency runs: one connection (one request at a time), the two routes taking turns like the
   * rounds (turnMs). Older results: `rate` req/s over 2 connections, one run per route in turn.
   */
  latencyOneAtATime?: boolean;
  /** Rounds alternate the route that takes the first and last turn (older results: always open). */
  leadAlternates?: boolean;
  connections: number;
  backends: Backend[];
  keyCounts: number[];
  lastUsedSeconds: number;
  oauthSeconds: number;
  oauthConcurrency: number;
  tokenCodes: number;
  pgAdminUrl: string;
  /** Older results: requests per second of the fixed-rate latency runs. */
  rate?: number;
  /** autocannon polls without sleeping ("awake") or blocks between responses ("sleeping"; every run before 2026-12-02). */
  client?: "awake" | "sleeping";
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
  loadBefore: number[];
  loadAfter?: number[];
  /** CPU steal over the whole run (see ScalePoint.steal). */
  steal?: number;
}

/** Cumulative CPU time counters of the whole machine; null off Linux. */
export interface CpuTimes {
  total: number;
  steal: number;
}

export function cpuTimes(): CpuTimes | null {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/** Fraction of CPU time stolen between two readings; undefined when unknown. */
export function stealBetween(a: CpuTimes | null, b: CpuTimes | null): number | undefined {
  return a && b && b.total > a.total ? (b.steal - a.steal) / (b.total - a.total) : undefined;
}

export function machine(): Machine {
  let pretty = `${os.type()} ${os.release()}`;
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (m) pretty = `${m[1]} (${os.type()} ${os.release()}, ${os.arch()})`;
  } catch {
    /* not Linux */
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: pretty,
    date: new Date().toISOString(),
    loadBefore: os.loadavg(),
  };
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f2 = (n: number) => n.toFixed(2);
const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const signed = (n: number) => `${n < 0 ? "−" : "+"}${f2(Math.abs(n))}`;
/** How the latency runs (fixedOpen / fixedKey) were loaded. */
const latencyLoad = (cfg: RunConfig) => (cfg.latencyOneAtATime ? "one request at a time" : `at a fixed ${f0(cfg.rate ?? 1000)} req/s`);
const keysLabel = (n: number) =>
  n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
const verdict = (ok: boolean) => (ok ? "**met**" : "**NOT met**");
const statusList = (r: LoadResult) =>
  Object.entries(r.statuses)
    .map(([k, v]) => `${k}×${f0(v)}`)
    .join(" ") + (r.errors ? ` err×${r.errors}` : "");

export interface Targets {
  throughput: { ok: boolean; worst: number; where: string } | null;
  p99: { ok: boolean; worst: number; where: string } | null;
  flat: { ok: boolean; worst: number; where: string; inProcess: string } | null;
  lastUsed: { ok: boolean; detail: string } | null;
  shutdown: { ok: boolean; detail: string } | null;
  revocation: { ok: boolean; detail: string } | null;
}

/** The in-process key check at the smallest and largest key count, per backend (no HTTP noise). */
function inProcessScale(results: BackendResults[]): string {
  return results
    .filter((b) => b.scale.length >= 2 && b.scale[0]!.micro && b.scale[b.scale.length - 1]!.micro)
    .map((b) => {
      const [first, last] = [b.scale[0]!, b.scale[b.scale.length - 1]!];
      const [a, z] = [first.micro!.cachedUs, last.micro!.cachedUs];
      return `${b.backend} ${a.toFixed(1)} → ${z.toFixed(1)} µs (${pct(Math.abs(1 - z / a))} apart)`;
    })
    .join("; ");
}

const median = (values: number[]): number => medianBy(values, (v) => v);

/** Verified ÷ open throughput: the median of the per-round ratios when there are rounds. */
export function keyRatio(p: ScalePoint): number {
  return p.roundRatios?.length ? median(p.roundRatios) : p.key.rps / p.open.rps;
}

/**
 * A distribution-free interval for the median of the per-round ratios (order statistics: the k-th
 * smallest and k-th largest, k as large as keeps the coverage ≥ 95 %). Null below 6 rounds.
 */
export function medianInterval(values: number[]): { lo: number; hi: number; coverage: number } | null {
  const n = values.length;
  if (n < 6) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // P(Binomial(n, 1/2) ≤ j) for j = 0 … n
  const cdf: number[] = [];
  let term = 0.5 ** n;
  let sum = 0;
  for (let j = 0; j <= n; j++) {
    sum += term;
    cdf.push(sum);
    term = (term * (n - j)) / (j + 1);
  }
  let k = 1;
  while (k + 1 <= n / 2 && 1 - 2 * cdf[k]! >= 0.95) k++;
  return { lo: sorted[k - 1]!, hi: sorted[n - k]!, coverage: 1 - 2 * cdf[k - 1]! };
}

/** "98 % interval for the median a–b" of per-round ratios; "" when there are too few. */
const intervalText = (ratios: number[] | undefined) => {
  const ci = ratios ? medianInterval(ratios) : null;
  return ci ? `${Math.round(ci.coverage * 100)} % interval for the median ${pct(ci.lo)}–${pct(ci.hi)}` : "";
};

export function judge(results: BackendResults[]): Targets {
  const points = results.flatMap((b) => b.scale.map((p) => ({ b: b.backend, p })));
  const ratio = points.map(({ b, p }) => {
    const interval = intervalText(p.roundRatios);
    return { v: keyRatio(p), where: `${b} ${keysLabel(p.keys)}${interval ? `; ${interval}` : ""}` };
  });
  // Added latency is judged below saturation (one request at a time; older results: a fixed rate):
  // at full load the p99 is queueing, i.e. the throughput difference again. The saturated p99s are
  // reported in the tables too.
  const added = points.map(({ b, p }) =>
    p.fixedKey && p.fixedOpen
      ? { v: p.fixedKey.p99 - p.fixedOpen.p99, where: `${b} ${keysLabel(p.keys)}` }
      : { v: p.key.p99 - p.open.p99, where: `${b} ${keysLabel(p.keys)}, saturated` },
  );
  const flat = results
    .filter((b) => b.scale.length >= 2)
    .map((b) => {
      const first = b.scale[0]!;
      const last = b.scale[b.scale.length - 1]!;
      // Normalised by the open baseline of the same rounds: the two key counts are measured minutes
      // apart, and a shared machine's speed drifts more than that between them (the absolute
      // numbers are in the tables).
      return {
        v: Math.abs(1 - keyRatio(last) / keyRatio(first)),
        where: `${b.backend} ${keysLabel(last.keys)} vs ${keysLabel(first.keys)}`,
      };
    });
  const min = (xs: { v: number; where: string }[]) => xs.reduce((a, x) => (x.v < a.v ? x : a));
  const max = (xs: { v: number; where: string }[]) => xs.reduce((a, x) => (x.v > a.v ? x : a));
  const lu = results.flatMap((b) => b.lastUsed.map((r) => ({ b: b.backend, r })));
  const sd = results.filter((b) => b.shutdown).map((b) => ({ b: b.backend, s: b.shutdown! }));
  const rv = results.flatMap((b) => b.revocation.map((r) => ({ b: b.backend, r })));
  return {
    throughput: ratio.length ? { ok: min(ratio).v >= 0.9, worst: min(ratio).v, where: min(ratio).where } : null,
    p99: added.length ? { ok: max(added).v <= 1, worst: max(added).v, where: max(added).where } : null,
    flat: flat.length ? { ok: max(flat).v <= 0.1, worst: max(flat).v, where: max(flat).where, inProcess: inProcessScale(results) } : null,
    lastUsed: lu.length
      ? {
          ok: lu.every(({ r }) => r.writes <= r.bound),
          detail: lu.map(({ b, r }) => `${b} ${r.label}: ${f0(r.writes)} writes ≤ bound ${f0(r.bound)}`).join("; "),
        }
      : null,
    shutdown: sd.length
      ? {
          ok: sd.every(({ s }) => s.exitCode === 0 && s.upToDate === s.keys),
          detail: sd.map(({ b, s }) => `${b}: ${s.upToDate}/${s.keys} up to date after SIGTERM (exit ${s.exitCode})`).join("; "),
        }
      : null,
    revocation: rv.length
      ? {
          ok: rv.every(({ r }) => r.nextStatus.every((s) => s === 401) && r.okSentAfterRevoke === 0),
          detail: rv
            .map(
              ({ b, r }) => `${b} ${r.where}: next request → ${r.nextStatus.join("/")}, 2xx sent after revocation: ${r.okSentAfterRevoke}`,
            )
            .join("; "),
        }
      : null,
  };
}

function loadRow(name: string, r: LoadResult, base?: LoadResult): string {
  const rel = base ? pct(r.rps / base.rps) : "—";
  const added = base ? `${f2(r.p99 - base.p99)}` : "—";
  return `| ${name} | ${f0(r.rps)} | ${rel} | ${f2(r.p50)} | ${f2(r.p99)} | ${added} | ${statusList(r)} |`;
}

export function renderMarkdown(cfg: RunConfig, m: Machine, results: BackendResults[], plotFile: string | null): string {
  const t = judge(results);
  const L: string[] = [];
  L.push("# Keyward benchmark results", "");
  L.push(
    `Issue #9: the cost of a verified request, at scale, on both backends. Generated by \`${cfg.command}\` (bench/run.ts); see bench/README.md for what each number means.`,
    "",
  );
  if (cfg.quick)
    L.push("> **Quick (smoke) run**: very short runs and small key counts. Not a measurement; do not commit these numbers.", "");
  L.push("## Machine", "");
  L.push(`- CPU: ${m.cpu}, ${m.cores} logical cores`);
  L.push(`- Memory: ${m.memoryGiB} GiB`);
  L.push(`- Node: ${m.node}`);
  L.push(`- OS: ${m.os}`);
  L.push(`- Date: ${m.date}`);
  L.push(
    `- Load average (1/5/15 min) before: ${m.loadBefore.map(f2).join(" / ")}${m.loadAfter ? `; after: ${m.loadAfter.map(f2).join(" / ")}` : ""}`,
  );
  if (m.steal !== undefined)
    L.push(
      `- CPU steal over the run: ${pct(m.steal)} of the machine's CPU time went to other guests of the host (per scale point below; a few % already moves these numbers)`,
    );
  for (const b of results) L.push(`- ${b.backend}: ${b.version}`);
  L.push(
    `- Load generator, servers and database share this machine: autocannon (one child process per instance under load${cfg.client === "awake" ? ", awake: see Configuration" : ""}), Keyward (one Node process per instance), PostgreSQL.`,
    "",
  );
  L.push("## Configuration", "");
  L.push("```");
  L.push(cfg.command);
  L.push(
    cfg.turnMs
      ? `duration per run: ${cfg.duration} s (after ${cfg.warmup} s warm-up); open and valid key in ${cfg.rounds} rounds, each round one autocannon run in which the two routes take turns on the same connections every ${cfg.turnMs} ms (ABBA order: each goes first in half of the pairs${cfg.leadAlternates ? "; the route that takes the first and last turn alternates from round to round" : ""}), ${cfg.roundDuration ?? cfg.duration} s per route (the round with the median req/s is reported, and the median of the per-round ratios is judged: this machine's speed changes within a second, so both routes are measured over the same moments); connections: ${cfg.connections}, pipelining 1, 127.0.0.1 only`
      : `duration per run: ${cfg.duration} s (after ${cfg.warmup} s warm-up); open and valid key alternate in ${cfg.rounds} rounds of ${cfg.roundDuration ?? cfg.duration} s runs each (the run with the median req/s is reported, and the median of the per-round ratios is judged: this machine's speed flips between states from one second to the next, so short runs side by side compare like with like); connections: ${cfg.connections}, pipelining 1, 127.0.0.1 only`,
  );
  L.push(
    cfg.client === "awake"
      ? "client: awake for the saturated runs on one instance (autocannon's event loop polls its sockets instead of blocking in epoll_wait, so a response never has to wake it); sleeping (as it comes) for the latency, two-instance, revocation and last-used runs; the first key count also runs every round's open / valid-key pair with a sleeping client"
      : "client: sleeping (autocannon as it comes: it blocks in epoll_wait between responses, and each response that finds it asleep wakes it)",
  );
  L.push(`backends: ${cfg.backends.join(", ")}; key counts: ${cfg.keyCounts.join(", ")}`);
  L.push(
    `last-used: ${cfg.lastUsedSeconds} s per run with LAST_USED_FLUSH_SECONDS=1; OAuth: ${cfg.oauthSeconds} s of full flows and ${cfg.tokenCodes} token calls, concurrency ${cfg.oauthConcurrency}`,
  );
  L.push(
    `server: ${cfg.server ?? "node dist/main.js (the compiled build), BENCH_ROUTES=true"}, HOST=127.0.0.1 LOG_LEVEL=warn REGISTRATION_RATE_LIMIT=1000000 (LAST_USED_FLUSH_SECONDS default 60 unless stated)`,
  );
  const latencyRuns = cfg.latencyOneAtATime
    ? `latency runs: one connection (one request at a time: no queueing), ${cfg.fixedRounds ?? 1} round(s) in which open and valid key take turns every ${cfg.turnMs} ms, ${cfg.duration} s per route (the round with the median p99 of each route is reported)`
    : `fixed-rate latency runs: ${cfg.rate} req/s over 2 connections, ${cfg.duration} s each, ${cfg.fixedRounds ?? 1} open / valid-key pair(s) alternating (the run with the median p99 of each route is reported)`;
  L.push(`${latencyRuns}; verify() in process: 3 rounds of sequential calls (cache off: a quarter as many), median`);
  L.push(`PostgreSQL admin URL: ${redactDatabaseUrl(cfg.pgAdminUrl)} (a fresh database per run, dropped after)`);
  L.push("```", "");

  L.push("## Targets", "");
  L.push("| Target | Result | Numbers |", "|---|---|---|");
  if (t.throughput)
    L.push(
      `| Verified throughput ≥ 90 % of the unauthenticated baseline (median of per-round ratios${cfg.client === "awake" ? ", client awake" : ""}) | ${verdict(t.throughput.ok)} | worst ${pct(t.throughput.worst)} (${t.throughput.where}) |`,
    );
  if (t.p99)
    L.push(
      `| p99 added latency ≤ 1 ms on loopback (${latencyLoad(cfg)}, below saturation) | ${verdict(t.p99.ok)} | worst ${signed(t.p99.worst)} ms (${t.p99.where}) |`,
    );
  if (t.flat)
    L.push(
      `| Flat in the number of keys: largest key count within 10 % of the smallest (verified req/s relative to the open baseline of the same rounds) | ${verdict(t.flat.ok)} | worst ${pct(t.flat.worst)} apart (${t.flat.where})${t.flat.inProcess ? `; the key check alone, in process, ${t.flat.inProcess}` : ""} |`,
    );
  if (t.lastUsed) L.push(`| Last-used: at most one write per key per interval | ${verdict(t.lastUsed.ok)} | ${t.lastUsed.detail} |`);
  if (t.shutdown) L.push(`| Last-used: none lost on clean shutdown | ${verdict(t.shutdown.ok)} | ${t.shutdown.detail} |`);
  if (t.revocation) L.push(`| Revocation effective on the next request | ${verdict(t.revocation.ok)} | ${t.revocation.detail} |`);
  L.push("");
  L.push(
    "Every instance runs with the **verification cache on** (`VERIFY_CACHE_SIZE` default): key rows are kept in memory, and every request first asks the database whether anything was committed since (SQLite: the WAL-index header, one `pread` per event-loop turn shared by the requests of that turn; PostgreSQL: the key-change feed, pushed to each instance over LISTEN/NOTIFY with writers waiting for every instance to acknowledge, so no round trip; `pg_current_snapshot()`, one round trip shared by the requests that arrive while it is in flight, only while the feed cannot vouch), emptying the cache if so (docs/performance.md). The revocation check above revokes a key in the middle of a load run on it, with the key's row in the cache of every instance under load, and checks that the very next request is 401 and that no request sent after the revocation committed got a 2xx. *Valid key, cache off* is the same load on a second instance started with `VERIFY_CACHE_SIZE=0`.",
    "",
  );

  L.push("## 1–2. Verify overhead and scale", "");
  L.push(
    'Same handler (`{"ok":true}`), `/__bench/open` without authentication and `/__bench/key` behind the production `requireKey` middleware. *vs open* = req/s relative to the open route of the same backend and key count; *p99 added* = p99 minus the open route\'s p99. Latencies in ms, every response counted.',
    "",
  );
  for (const b of results) {
    for (const p of b.scale) {
      L.push(
        `### ${b.backend}, ${f0(p.keys)} keys in the table (seeded in ${f2(p.seedSeconds)} s${p.steal !== undefined ? `; CPU steal during the runs ${pct(p.steal)}` : ""})`,
        "",
      );
      L.push("| Route | req/s | vs open | p50 | p99 | p99 added | Responses |", "|---|---:|---:|---:|---:|---:|---|");
      L.push(loadRow("open (no auth)", p.open));
      L.push(loadRow("valid key", p.key, p.open));
      if (p.uncached) L.push(loadRow("valid key, cache off", p.uncached, p.open));
      L.push(loadRow("invalid format (no DB work)", p.invalid, p.open));
      L.push(loadRow("unknown key (valid format, not stored)", p.unknown, p.open));
      L.push(loadRow("revoked key", p.revoked, p.open));
      if (p.twoOpen && p.twoKey) {
        L.push(loadRow("2 instances: open (combined)", p.twoOpen));
        L.push(loadRow("2 instances: valid key (combined)", p.twoKey, p.twoOpen));
      }
      L.push("");
      if (p.roundRatios?.length) {
        const interval = intervalText(p.roundRatios);
        L.push(
          `Per round, valid key ÷ open (${cfg.turnMs ? `taking turns every ${cfg.turnMs} ms on the same connections` : "back-to-back runs"}): ${p.roundRatios.map(pct).join(", ")}; median **${pct(keyRatio(p))}**${interval ? ` (${interval})` : ""}.`,
          "",
        );
      }
      if (p.roundCpuUs) {
        const [o, k] = [median(p.roundCpuUs.open), median(p.roundCpuUs.key)];
        L.push(
          `Server CPU time per response over the same rounds (median of the runs; user + system, all threads): open ${o.toFixed(1)} µs, valid key ${k.toFixed(1)} µs: **+${(k - o).toFixed(1)} µs per verified request** (${pct(o / k)} of the open route's requests per CPU-second).`,
          "",
        );
      }
      if (p.sleepingRatios?.length && p.sleepingOpen && p.sleepingKey) {
        const interval = intervalText(p.sleepingRatios);
        L.push(
          `With a **sleeping client** (autocannon as it comes, blocking between responses), the same rounds: open ${f0(p.sleepingOpen.rps)} req/s, valid key ${f0(p.sleepingKey.rps)} req/s; per round ${p.sleepingRatios.map(pct).join(", ")}; median **${pct(median(p.sleepingRatios))}**${interval ? ` (${interval})` : ""}. Each response that finds the client asleep wakes it from inside the server's own send (loopback delivers in the sender's context), and the slower route finds it asleep more often, so this ratio also bills the server for a co-located client's wake-ups (bench/README.md).`,
          "",
        );
      }
      if (p.deferredRatios?.length) {
        const d = median(p.deferredRatios);
        const why =
          cfg.client === "awake"
            ? "how far answering one phase later moves req/s by itself, with the client awake"
            : `how far event-loop timing alone moves req/s with a sleeping client: responses that leave together let it read several per wake-up. ${b.backend === "sqlite" ? "SQLite's verified route answers in that phase (its change check runs once per turn), so it gets the same lift." : "PostgreSQL's verified route answers at once (the feed needs no read), so it gets no such lift."}`;
        L.push(
          `Calibration, the same rounds: the open handler answered one event-loop phase later (\`/__bench/deferred\`, after \`setImmediate\`: no work added) ran at **${pct(d)}** of the open route (median; per round ${p.deferredRatios.map(pct).join(", ")}): ${why}.`,
          "",
        );
      }
      if (p.selfRatios?.length) {
        const interval = intervalText(p.selfRatios);
        L.push(
          `The method against itself, the same rounds: the open route taking turns with itself read **${pct(median(p.selfRatios))}** (median${interval ? `, ${interval}` : ""}; per round ${p.selfRatios.map(pct).join(", ")}): what the rounds would report for a key check that cost nothing.`,
          "",
        );
      }
      if (p.fixedOpen && p.fixedKey)
        L.push(
          `${capitalized(latencyLoad(cfg))} (no queueing): open p50 ${f2(p.fixedOpen.p50)} / p99 ${f2(p.fixedOpen.p99)} ms; valid key p50 ${f2(p.fixedKey.p50)} / p99 ${f2(p.fixedKey.p99)} ms; **p99 added ${signed(p.fixedKey.p99 - p.fixedOpen.p99)} ms** (${statusList(p.fixedKey)}).` +
            (p.fixedCpuUs
              ? ` Server CPU per request ${cfg.latencyOneAtATime ? "in these runs" : "at this rate"}: open ${p.fixedCpuUs.open.toFixed(0)} µs, valid key ${p.fixedCpuUs.key.toFixed(0)} µs: **${(p.fixedCpuUs.key - p.fixedCpuUs.open).toFixed(0)} µs added** (±10 µs: the kernel counts CPU time in 10 ms ticks).`
              : ""),
          "",
        );
      if (p.micro)
        L.push(
          `The key check alone, in process (\`keys.verify()\`, ${f0(p.micro.calls)} calls one at a time, no HTTP): **${p.micro.cachedUs.toFixed(1)} µs** per call with the cache, ${p.micro.uncachedUs.toFixed(1)} µs with the cache off${b.backend === "sqlite" ? " (one at a time, each cached call also waits for its own event-loop turn: the change check runs once per turn, shared under load)" : " (no round trip while the change feed vouches for the cache)"}.`,
          "",
        );
      if (p.cache)
        L.push(
          `Verification cache over the valid-key runs: ${f0(p.cache.hits)} hits, ${f0(p.cache.misses)} misses, ${f0(p.cache.resets)} resets (a change emptied it)${p.cache.changeReads !== undefined ? `, ${f0(p.cache.changeReads)} change-check round trips (the snapshot, read only while the change feed cannot vouch)` : ""}.`,
          "",
        );
    }
    if (b.scale.length >= 2) {
      const first = b.scale[0]!;
      const last = b.scale[b.scale.length - 1]!;
      L.push(
        `Scale (${b.backend}): valid-key req/s at ${keysLabel(last.keys)} keys = ${pct(last.key.rps / first.key.rps)} of ${keysLabel(first.keys)} (open baseline: ${pct(last.open.rps / first.open.rps)}); relative to the open baseline of the same rounds, ${pct(keyRatio(last))} vs ${pct(keyRatio(first))}; p99 ${f2(first.key.p99)} → ${f2(last.key.p99)} ms.`,
        "",
      );
    }
  }
  if (plotFile) L.push(`![requests/s and p99 against key count](${plotFile})`, "");

  L.push("## 3. Last-used writes", "");
  L.push(
    "Writes = `LastUsedTracker.writes` (key times written: each key at most once per flush, one `UPDATE` statement per 500 keys) read from `/__bench/stats` before and after the run; the server runs with `LAST_USED_FLUSH_SECONDS=1`. *Bound* = keys used × (flush ticks in the window + 1).",
    "",
  );
  L.push(
    "| Backend | Load | Keys used | Requests | req/s offered / served | Seconds | Writes | Writes/s | Bound | Writes per request |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const b of results)
    for (const r of b.lastUsed)
      L.push(
        `| ${b.backend} | ${r.label} | ${f0(r.keysUsed)} | ${f0(r.requests)} | ${f0(r.offeredRate)} / ${f0(r.servedRate)} | ${f2(r.seconds)} | ${f0(r.writes)} | ${f2(r.writes / r.seconds)} | ${f0(r.bound)} | ${(r.writes / Math.max(1, r.requests)).toFixed(5)} |`,
      );
  L.push("");
  L.push(
    "What the default (`LAST_USED_FLUSH_SECONDS=60`) implies: at most one write per key per 60 s whatever the request rate, i.e. ≤ 1/60 ≈ 0.017 writes/s for one busy key and ≤ N/60 writes/s for N keys in use (1,000 active keys → ≤ 16.7 writes/s), per instance. A crash (not a clean shutdown) loses at most the last interval's times.",
    "",
  );
  const sds = results.filter((b) => b.shutdown);
  if (sds.length) {
    L.push(
      "Clean shutdown (server with `LAST_USED_FLUSH_SECONDS=3600`, so nothing is written before the signal): load on fresh keys, one last request per key, SIGTERM, then `lastUsedAt` read from the database.",
      "",
    );
    L.push(
      "| Backend | Keys | Writes before SIGTERM | Exit code | lastUsedAt written | At or after the key's last request |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const b of sds) {
      const s = b.shutdown!;
      L.push(`| ${b.backend} | ${s.keys} | ${s.writesBeforeStop} | ${s.exitCode} | ${s.written} | ${s.upToDate} |`);
    }
    L.push("");
  }

  L.push("## Revocation under load", "");
  L.push(
    "| Backend | Where | Load before/after (responses) | Next request after DELETE | 2xx sent after revocation |",
    "|---|---|---|---|---:|",
  );
  for (const b of results)
    for (const r of b.revocation)
      L.push(`| ${b.backend} | ${r.where} | ${statusList(r.load)} | ${r.nextStatus.join(", ")} | ${r.okSentAfterRevoke} |`);
  L.push("");

  L.push("## 4. OAuth", "");
  L.push(
    "Full flow = dynamic client registration → /auth → consent page → Allow → code → /token (PKCE S256), by logged-in scripted browsers. Token alone = the codes are made first, only the /token calls are timed (each mints a key row). Latencies in ms.",
    "",
  );
  L.push("| Backend | Measure | Count | per second | p50 | p99 | Errors |", "|---|---|---:|---:|---:|---:|---:|");
  for (const b of results) {
    if (b.flows)
      L.push(
        `| ${b.backend} | full flows | ${b.flows.count} | ${f2(b.flows.perSecond)} | ${f2(b.flows.p50)} | ${f2(b.flows.p99)} | ${b.flows.errors} |`,
      );
    if (b.tokens)
      L.push(
        `| ${b.backend} | token endpoint alone | ${b.tokens.count} | ${f2(b.tokens.perSecond)} | ${f2(b.tokens.p50)} | ${f2(b.tokens.p99)} | ${b.tokens.errors} |`,
      );
  }
  L.push("");
  const notes = results.flatMap((b) => b.notes.map((n) => `- ${b.backend}: ${n}`));
  if (notes.length) L.push("## Notes", "", ...notes, "");
  return L.join("\n");
}
