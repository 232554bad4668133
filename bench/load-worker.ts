// Child process of bench/load.ts: reads a LoadSpec on stdin, runs autocannon, prints a LoadResult.
import autocannon from "autocannon";
import { FIRST_OK, type LoadResult, type LoadSpec } from "./load.js";

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

async function main(): Promise<void> {
  const spec = JSON.parse(await readStdin()) as LoadSpec;
  const keys = spec.keys ?? [];
  let next = 0;
  const options: autocannon.Options = {
    url: `${spec.url}${spec.path}`,
    connections: spec.connections,
    duration: spec.duration,
    pipelining: 1,
    timeout: 10,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    headers: keys.length === 1 ? { authorization: `Bearer ${keys[0]}` } : {},
  };
  if (keys.length > 1) {
    options.requests = [
      {
        method: "GET",
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${keys[next++ % keys.length]}` } }),
      },
    ];
  }
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let lastOkSentAt: number | null = null;
  let firstFailSentAt: number | null = null;
  const okSentAt: number[] = [];
  const started = now();
  let finish: (err: Error | null, result: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, result) => (err ? reject(err) : resolve(result));
  });
  // An awake client never blocks in epoll_wait: its event loop always has an immediate pending, so
  // it polls its sockets without sleeping. A response then never has to wake it, which on loopback
  // the *server* pays for inside its own send (bench/README.md, "Why the client stays awake").
  let running = true;
  if (spec.awake) {
    const spin = () => {
      if (running) setImmediate(spin);
    };
    spin();
  }
  const instance = autocannon(options, (err, result) => {
    running = false;
    finish(err, result);
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    const sentAt = now() - responseTime;
    if (statusCode >= 200 && statusCode < 300) {
      if (lastOkSentAt === null) process.stderr.write(`${FIRST_OK}\n`);
      if (lastOkSentAt === null || sentAt > lastOkSentAt) lastOkSentAt = sentAt;
      if (spec.recordOkTimes) okSentAt.push(sentAt);
    } else if (firstFailSentAt === null || sentAt < firstFailSentAt) firstFailSentAt = sentAt;
  });
  const result = await done;
  const seconds = (now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const out: LoadResult = {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    mean: latencies.reduce((s, v) => s + v, 0) / Math.max(1, latencies.length),
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    lastOkSentAt,
    firstFailSentAt,
    ...(spec.recordOkTimes ? { okSentAt } : {}),
  };
  process.stdout.write(JSON.stringify(out));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
