// One load run (or a pair of routes taking turns): autocannon against 127.0.0.1, bounded in time, in a child process of its own
// (bench/load-worker.ts) so that two can run in parallel and the orchestrator stays out of the
// way. Latencies are kept at full (sub-millisecond) resolution: autocannon's own histogram
// truncates to whole milliseconds and only counts 2xx.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Printed on stderr by the worker at the first 2xx response. */
export const FIRST_OK = "bench:first-ok";

/**
 * The benchmarks' real request (bench/real-request.ts, bench/usage.ts): POST /mcp, a tools/call of the
 * read tool `whoami`, which touches no table, so the key check is most of the work.
 */
export const WHOAMI_CALL = {
  path: "/mcp",
  method: "POST" as const,
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface LoadSpec {
  url: string;
  path: string;
  /** Sent as `Authorization: Bearer <key>`, round-robin over the list; none → no header. */
  keys?: string[];
  /** GET unless set; a POST sends `body` with `headers` (e.g. an MCP tools/call). */
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
  /** The server's pid: its CPU time (/proc/<pid>/stat) over the run is returned as serverCpuMs. */
  serverPid?: number;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Stop after this many requests instead of after `duration` (autocannon amount; `duration` is then only a bound). */
  amount?: number;
  /** Requests per second over all connections (autocannon overallRate); unset = as fast as possible. */
  rate?: number;
  /** Also return the send time of every 2xx response (the revocation check needs them). */
  recordOkTimes?: boolean;
  /**
   * Keep autocannon's event loop from ever sleeping (it polls instead of blocking in epoll_wait), so
   * the server never pays, inside its own send, for waking a client that shares its machine.
   */
  awake?: boolean;
}

/**
 * Two routes on the same connections, taking turns every `segmentMs` in ABBA order (A B B A A B …)
 * for `duration` seconds each, so that both see the same moments of a machine whose speed changes
 * from one moment to the next (bench/README.md, "Rounds that take turns"). `duration`, `connections`
 * and `awake` as in LoadSpec; `rate` and `recordOkTimes` do not apply.
 */
export interface PairSpec {
  url: string;
  routes: [{ path: string; keys?: string[] }, { path: string; keys?: string[] }];
  connections: number;
  duration: number;
  segmentMs: number;
  awake?: boolean;
  /** The server's pid: its CPU time (/proc/<pid>/stat) is added up over each route's turns. */
  serverPid?: number;
  /**
   * Which route settles the connections and takes the first turn (and the last: the pairs are
   * ABBA); default 0. The lead reads about a point lower (an A/A test, bench/README.md), so the
   * benchmark's rounds alternate it.
   */
  lead?: 0 | 1;
}

export interface LoadHooks {
  /** Called when the first 2xx response arrives (the load is really running). */
  onFirstOk?: () => void;
}

export interface LoadResult {
  requests: number;
  /** Responses per second over the run. */
  rps: number;
  /** Latency percentiles in milliseconds, every response counted. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  /** Wall-clock time (epoch ms) the last 2xx response's request was sent; null when none. */
  lastOkSentAt: number | null;
  /** Wall-clock time (epoch ms) the first non-2xx response's request was sent; null when none. */
  firstFailSentAt: number | null;
  /** With recordOkTimes: wall-clock send time (epoch ms) of every 2xx response. */
  okSentAt?: number[];
  /** With serverPid: the server's CPU time (user + system, ms) over the run, or over this route's turns. */
  serverCpuMs?: number;
}

/** CPU time (user + system, all threads) a process has used, in ms; null off Linux or once it exited. */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100) ticks
  } catch {
    return null;
  }
}

/** Microseconds of CPU per response, from ms of CPU over a run. */
export const usPerResponse = (cpuMs: number, requests: number) => (cpuMs * 1000) / Math.max(1, requests);

export function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadResult> {
  return runWorker<LoadResult>({ mode: "single", spec }, spec.duration, hooks);
}

/**
 * WHOAMI_CALL against one server for `duration` seconds, the keys round-robin, autocannon kept awake and
 * the server's CPU time measured: the timed run of bench/real-request.ts and bench/usage.ts.
 */
export function runWhoamiLoad(
  server: { url: string; child: { pid?: number } },
  keys: string[],
  connections: number,
  duration: number,
): Promise<LoadResult> {
  return runLoad({ url: server.url, ...WHOAMI_CALL, keys, connections, duration, awake: true, serverPid: server.child.pid });
}

/** The two routes of a PairSpec, taking turns: one result each, in the order given. */
export function runPair(spec: PairSpec): Promise<[LoadResult, LoadResult]> {
  return runWorker<[LoadResult, LoadResult]>({ mode: "pair", spec }, 2 * spec.duration);
}

export type WorkerInput = { mode: "single"; spec: LoadSpec } | { mode: "pair"; spec: PairSpec };

function runWorker<T>(input: WorkerInput, seconds: number, hooks: LoadHooks = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join("bench", "load-worker.ts")], {
      cwd: root,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => {
      const before = err;
      err += String(d);
      if (!before.includes(FIRST_OK) && err.includes(FIRST_OK)) hooks.onFirstOk?.();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`load worker exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`load worker printed no result: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Sums the throughput of runs made in parallel (e.g. one per instance); latencies are the worst of them. */
export function combine(results: LoadResult[]): LoadResult {
  const statuses: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const max = (f: (r: LoadResult) => number) => Math.max(...results.map(f));
  const requests = results.reduce((s, r) => s + r.requests, 0);
  return {
    requests,
    rps: results.reduce((s, r) => s + r.rps, 0),
    p50: max((r) => r.p50),
    p90: max((r) => r.p90),
    p99: max((r) => r.p99),
    max: max((r) => r.max),
    mean: results.reduce((s, r) => s + r.mean * r.requests, 0) / Math.max(1, requests),
    statuses,
    errors: results.reduce((s, r) => s + r.errors, 0),
    timeouts: results.reduce((s, r) => s + r.timeouts, 0),
    seconds: max((r) => r.seconds),
    lastOkSentAt: results.some((r) => r.lastOkSentAt !== null) ? max((r) => r.lastOkSentAt ?? 0) : null,
    firstFailSentAt: null,
  };
}

/** The (lower) median item by a measure. */
export function medianBy<T>(items: T[], by: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Median of repeated runs by throughput, or by another measure (the run itself, so its numbers stay consistent). */
export function medianRun(results: LoadResult[], by: (r: LoadResult) => number = (r) => r.rps): LoadResult {
  return medianBy(results, by);
}
