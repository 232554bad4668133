// Child process of bench/load.ts: reads a WorkerInput on stdin, runs autocannon, prints a LoadResult
// (one route) or two (a pair of routes taking turns on the same connections).
import autocannon from "autocannon";
import { FIRST_OK, processCpuMs, type LoadResult, type LoadSpec, type PairSpec, type WorkerInput } from "./load.js";

const now = () => performance.timeOrigin + performance.now();

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Responses of one route: every latency at full resolution, and the count per status. */
class Tally {
  latencies: number[] = [];
  statuses: Record<string, number> = {};
  add(statusCode: number, responseTime: number): void {
    this.latencies.push(responseTime);
    this.statuses[statusCode] = (this.statuses[statusCode] ?? 0) + 1;
  }
  result(seconds: number, run: autocannon.Result): LoadResult {
    const sorted = Float64Array.from(this.latencies).sort();
    return {
      requests: sorted.length,
      rps: sorted.length / seconds,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1]! : 0,
      mean: this.latencies.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
      statuses: this.statuses,
      errors: run.errors,
      timeouts: run.timeouts,
      seconds,
      lastOkSentAt: null,
      firstFailSentAt: null,
    };
  }
}

/**
 * An awake client never blocks in epoll_wait: its event loop always has an immediate pending, so it
 * polls its sockets without sleeping. A response then never has to wake it, which on loopback the
 * *server* pays for inside its own send (bench/README.md, "Why the client stays awake").
 */
function keepAwake(awake: boolean | undefined): () => void {
  let running = true;
  if (awake) {
    const spin = () => {
      if (running) setImmediate(spin);
    };
    spin();
  }
  return () => (running = false);
}

function start(options: autocannon.Options, awake: boolean | undefined) {
  const sleep = keepAwake(awake);
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (err, result) => {
      sleep();
      if (err) reject(err);
      else resolve(result);
    });
  });
  return { instance, done };
}

const authorization = (key: string) => ({ authorization: `Bearer ${key}` });

async function single(spec: LoadSpec): Promise<LoadResult> {
  const keys = spec.keys ?? [];
  let next = 0;
  const method = spec.method ?? "GET";
  const options: autocannon.Options = {
    url: `${spec.url}${spec.path}`,
    connections: spec.connections,
    duration: spec.duration,
    pipelining: 1,
    timeout: 10,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    ...(spec.amount ? { amount: spec.amount } : {}),
    method,
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    headers: { ...spec.headers, ...(keys.length === 1 ? authorization(keys[0]!) : {}) },
  };
  if (keys.length > 1) {
    options.requests = [
      {
        method,
        ...(spec.body !== undefined ? { body: spec.body } : {}),
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...spec.headers, ...authorization(keys[next++ % keys.length]!) } }),
      },
    ];
  }
  const tally = new Tally();
  let lastOkSentAt: number | null = null;
  let firstFailSentAt: number | null = null;
  const okSentAt: number[] = [];
  const started = now();
  const cpuBefore = processCpuMs(spec.serverPid);
  const { instance, done } = start(options, spec.awake);
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    tally.add(statusCode, responseTime);
    const sentAt = now() - responseTime;
    if (statusCode >= 200 && statusCode < 300) {
      if (lastOkSentAt === null) process.stderr.write(`${FIRST_OK}\n`);
      if (lastOkSentAt === null || sentAt > lastOkSentAt) lastOkSentAt = sentAt;
      if (spec.recordOkTimes) okSentAt.push(sentAt);
    } else if (firstFailSentAt === null || sentAt < firstFailSentAt) firstFailSentAt = sentAt;
  });
  const run = await done;
  const cpuAfter = processCpuMs(spec.serverPid);
  const serverCpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : undefined;
  return {
    ...tally.result((now() - started) / 1000, run),
    lastOkSentAt,
    firstFailSentAt,
    ...(spec.recordOkTimes ? { okSentAt } : {}),
    ...(serverCpuMs !== undefined ? { serverCpuMs } : {}),
  };
}

/** Settling time before the first turn is counted (connections open, both routes warm). */
const SETTLE_MS = 300;

async function pair(spec: PairSpec): Promise<[LoadResult, LoadResult]> {
  const pairs = Math.max(1, Math.round((spec.duration * 1000) / spec.segmentMs));
  const lead = spec.lead ?? 0;
  const other: 0 | 1 = lead === 0 ? 1 : 0;
  const order: (0 | 1)[] = []; // ABBA from the lead: each route goes first in half of the pairs
  for (let i = 0; i < pairs; i++) order.push(...(i % 2 === 0 ? [lead, other] : [other, lead]));
  const routes = spec.routes.map((r) => ({ path: r.path, headers: r.keys?.length ? authorization(r.keys[0]!) : {} }));
  let current: 0 | 1 = lead; // the lead also serves the settling time
  let counting = false;
  let answered: 0 | 1 = 0; // the route of the response being reported (set just before autocannon's "response")
  const options: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    duration: (SETTLE_MS + order.length * spec.segmentMs) / 1000 + 10, // stopped by hand after the last turn
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: "GET",
        setupRequest: (req, context) => {
          (context as { route?: 0 | 1 }).route = current;
          const route = routes[current]!;
          return { ...req, path: route.path, headers: { ...req.headers, ...route.headers } };
        },
        onResponse: (_status, _body, context) => {
          answered = (context as { route?: 0 | 1 }).route ?? 0;
        },
      },
    ],
  };
  const tallies = [new Tally(), new Tally()] as const;
  const seconds = [0, 0];
  const cpu: [number | null, number | null] = [0, 0];
  const { instance, done } = start(options, spec.awake);
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (counting) tallies[answered].add(statusCode, responseTime);
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  counting = true;
  for (const route of order) {
    current = route;
    const t0 = performance.now();
    const c0 = processCpuMs(spec.serverPid);
    await new Promise((r) => setTimeout(r, spec.segmentMs));
    const c1 = processCpuMs(spec.serverPid);
    seconds[route]! += (performance.now() - t0) / 1000;
    cpu[route] = cpu[route] === null || c0 === null || c1 === null ? null : cpu[route]! + (c1 - c0);
  }
  counting = false;
  instance.stop();
  const run = await done;
  return [0, 1].map((i) => ({
    ...tallies[i as 0 | 1].result(seconds[i]!, run),
    ...(cpu[i] !== null && spec.serverPid !== undefined ? { serverCpuMs: cpu[i]! } : {}),
  })) as [LoadResult, LoadResult];
}

async function main(): Promise<void> {
  const input = JSON.parse(await readStdin()) as WorkerInput;
  const out = input.mode === "pair" ? await pair(input.spec) : await single(input.spec);
  process.stdout.write(JSON.stringify(out));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
