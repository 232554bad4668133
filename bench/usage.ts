// `npx tsx bench/usage.ts`: what usage counting (issue 28 item 5) costs a verified request. Two
// instances of this checkout, each on a fresh database seeded with the same keys, one with
// KEY_USAGE_COUNTING=false ("off") and one with counting on (the default), take turns serving real
// MCP requests (POST /mcp, tools/call of the read tool `whoami`, the keys round-robin, as
// bench/real-request.ts), the lead alternating; the median of the per-round req/s and CPU ratios
// (on ÷ off) is the result, the target being within 5 %. Afterwards the "on" instance is stopped
// (its last flush) and the stored counts are checked against the 200s it answered: counting must
// also be right. A timed load run stops with up to one request per connection in flight, which the
// server answers (and counts) but the load tool no longer records: the stored count may exceed the
// recorded 200s by at most connections × runs, never fall short. In-process, it also times
// UsageCounter.note() itself (what counting adds to a request), which the machine's load hardly blurs.
// With --rate-limit N, the "on" instance's keys also carry a per-key limit of N requests a minute (set
// high enough never to refuse): the limiter then counts every request too, both controls of issue 28
// against neither.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { DEFAULT_PG_ADMIN_URL, type Backend, type BenchDatabase } from "./database.js";
import { forEachBackend, openBenchDatabase } from "./backends.js";
import { KEYED_LOAD_ARGS, keyedLoadOptionsOf, parseBenchArgs, positive, type KeyedLoadOptions } from "./options.js";
import { insertKeys, userIdOf } from "./seed.js";
import { startInstance, THIS_CHECKOUT, type Instance } from "./servers.js";
import { medianBy, runWhoamiLoad, usPerResponse, type LoadResult } from "./load.js";
import { mintKey, session } from "./oauth-client.js";
import { medianInterval } from "./report.js";
import { generateKey } from "../src/keys/format.js";
import { UsageCounter } from "../src/keys/usage/counter.js";

const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[usage +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

const HELP = `npx tsx bench/usage.ts [options]
  --backends <list>      sqlite,postgresql (default both)
  --keys <n>             keys, used round-robin (default 1000)
  --rounds <n>           rounds; in each, both instances serve --round-duration s (default 10)
  --round-duration <s>   seconds per instance per round (default 2)
  --warmup <s>           warm-up per instance (default 2)
  --connections <n>      autocannon connections (default 10)
  --flush <s>            LAST_USED_FLUSH_SECONDS of both instances (default 60, the server's default)
  --rate-limit <n>       also give the "on" instance's keys a rate limit of n requests a minute (default: none)
  --pg-url <url>         PostgreSQL admin URL (default ${DEFAULT_PG_ADMIN_URL})
  --out <file>           also write the Markdown report there`;

interface Options extends KeyedLoadOptions {
  flush: number;
  /** Per-key limit on the "on" instance's keys; null: none. */
  rateLimit: number | null;
}

function options(argv: string[]): Options {
  const values = parseBenchArgs(argv, HELP, {
    ...KEYED_LOAD_ARGS,
    flush: { type: "string" },
    "rate-limit": { type: "string" },
  });
  return {
    ...keyedLoadOptionsOf(values),
    flush: positive(values.flush, "flush", 60),
    rateLimit: values["rate-limit"] === undefined ? null : Math.round(positive(values["rate-limit"], "rate-limit", 1)),
  };
}

interface Side {
  label: "off" | "on";
  db: BenchDatabase;
  instance: Instance;
  rounds: LoadResult[];
  cpuUs: (number | null)[];
  /** 200s answered by this instance, warm-up included. */
  ok: number;
}

interface BackendResult {
  backend: Backend;
  sides: Side[];
  rpsRatios: number[];
  cpuRatios: number[];
  /** The "on" instance: requests stored in KeyUsage after its last flush, 200s recorded, load runs. */
  stored: number;
  answered: number;
  runs: number;
}

async function storedRequests(db: BenchDatabase): Promise<number> {
  const [row] = await db.query<{ n: string | number | null }>(`SELECT SUM("requests") AS n FROM "KeyUsage"`);
  return Number(row?.n ?? 0);
}

async function benchBackend(backend: Backend, cfg: Options): Promise<BackendResult> {
  const sides: Side[] = [];
  try {
    for (const label of ["off", "on"] as const) {
      const db = await openBenchDatabase(backend, cfg.pgUrl);
      const env = {
        DATABASE_URL: db.url,
        KEY_USAGE_COUNTING: label === "on" ? "true" : "false",
        LAST_USED_FLUSH_SECONDS: String(cfg.flush),
      };
      log(`${backend}: starting the counting-${label} instance`);
      sides.push({ label, db, instance: await startInstance(env, THIS_CHECKOUT, false), rounds: [], cpuUs: [], ok: 0 });
    }
    // The same raw keys in both databases (the prefix from a key the app minted).
    const users = await Promise.all(sides.map((s) => session(s.instance.url)));
    const probe = await mintKey(users[0]!, "usage probe");
    const prefix = probe.key.slice(0, probe.key.lastIndexOf("_") + 1);
    const raws = Array.from({ length: cfg.keys }, () => generateKey(prefix));
    for (const [i, side] of sides.entries()) await insertKeys(side.db, await userIdOf(side.db, users[i]!.email), raws, "usage bench");
    if (cfg.rateLimit !== null)
      await sides[1]!.db.query(`UPDATE "ApiKey" SET "rateLimit" = ${cfg.rateLimit} WHERE "label" = 'usage bench'`);
    const load = (side: Side, duration: number) => runWhoamiLoad(side.instance, raws, cfg.connections, duration);
    for (const side of sides) {
      const warm = await load(side, cfg.warmup);
      side.ok += warm.statuses["200"] ?? 0;
      if ((warm.statuses["200"] ?? 0) !== warm.requests)
        throw new Error(`${side.label}: not every tools/call answered 200: ${JSON.stringify(warm.statuses)}`);
    }
    const rpsRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      const round: LoadResult[] = [];
      for (const i of order) round[i] = await load(sides[i]!, cfg.roundSeconds);
      round.forEach((res, i) => {
        const side = sides[i]!;
        side.rounds.push(res);
        side.ok += res.statuses["200"] ?? 0;
        side.cpuUs.push(res.serverCpuMs !== undefined ? usPerResponse(res.serverCpuMs, res.requests) : null);
      });
      rpsRatios.push(round[1]!.rps / round[0]!.rps);
      const [c0, c1] = [sides[0]!.cpuUs[r], sides[1]!.cpuUs[r]];
      if (c0 && c1) cpuRatios.push(c1 / c0);
      log(
        `${backend} round ${r + 1}/${cfg.rounds}: ` +
          sides
            .map(
              (s) =>
                `${s.label}: ${s.rounds[r]!.rps.toFixed(0)} req/s p99 ${s.rounds[r]!.p99.toFixed(2)} ms ${s.cpuUs[r]?.toFixed(1) ?? "?"} µs`,
            )
            .join("; "),
      );
    }
    // Stop the "on" instance (a clean stop writes what is pending) and compare its counts.
    const on = sides[1]!;
    await on.instance.stop();
    const stored = await storedRequests(on.db);
    log(
      `${backend}: counting on: ${stored} requests stored, ${on.ok} 200s recorded by the load tool (+ up to ${cfg.connections} in flight per run)`,
    );
    return { backend, sides, rpsRatios, cpuRatios, stored, answered: on.ok, runs: cfg.rounds + 1 };
  } finally {
    for (const side of sides) {
      await side.instance.stop().catch(() => {});
      await side.db.drop().catch(() => {});
    }
  }
}

const pct = (v: number) => `${((v - 1) * 100).toFixed(1)} %`;

function render(
  cfg: Options,
  results: BackendResult[],
  load: { before: number[]; after: number[] },
  micro: { nsPerNote: number } | null,
): string {
  const L: string[] = [];
  const on =
    cfg.rateLimit === null ? "Usage counting" : `Usage counting + a rate limit of ${cfg.rateLimit.toLocaleString("en")}/min per key`;
  L.push(`## ${on} on vs off: MCP tools/call (whoami), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`, "");
  L.push(
    `${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, shared with other work while this ran; load average ${load.before.map((l) => l.toFixed(2)).join(" ")} before, ${load.after.map((l) => l.toFixed(2)).join(" ")} after. ${cfg.keys.toLocaleString("en")} keys round-robin, ${cfg.connections} connections, ${cfg.rounds} rounds × ${cfg.roundSeconds} s per instance (taking turns, lead alternating), LAST_USED_FLUSH_SECONDS=${cfg.flush}.`,
    "",
  );
  L.push(
    "| Backend | Counting | req/s (median round) | p50 ms | p99 ms | server CPU µs/request (median) |",
    "|---|---|---:|---:|---:|---:|",
  );
  for (const r of results)
    for (const s of r.sides) {
      const m = medianBy(s.rounds, (x) => x.rps);
      const cpu = s.cpuUs.filter((c): c is number => c !== null);
      L.push(
        `| ${r.backend} | ${s.label} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${cpu.length ? medianBy(cpu, (x) => x).toFixed(1) : "?"} |`,
      );
    }
  L.push(
    "",
    "| Backend | req/s on ÷ off (median of rounds, interval) | CPU/request on ÷ off (median, interval) | within 5 % | stored vs 200s recorded (+ in flight) |",
    "|---|---|---|---|---|",
  );
  for (const r of results) {
    const rps = medianBy(r.rpsRatios, (x) => x);
    const cpu = r.cpuRatios.length ? medianBy(r.cpuRatios, (x) => x) : NaN;
    const ri = medianInterval(r.rpsRatios);
    const ci = medianInterval(r.cpuRatios);
    const within = rps >= 0.95 && (Number.isNaN(cpu) || cpu <= 1.05);
    L.push(
      `| ${r.backend} | ${pct(rps)}${ri ? ` (${pct(ri.lo)} … ${pct(ri.hi)})` : ""} | ${Number.isNaN(cpu) ? "?" : pct(cpu)}${ci ? ` (${pct(ci.lo)} … ${pct(ci.hi)})` : ""} | ${within ? "yes" : "no"} | ${r.stored} stored, ${r.answered} recorded + ≤ ${cfg.connections} × ${r.runs} in flight: ${r.stored >= r.answered && r.stored - r.answered <= cfg.connections * r.runs ? "consistent" : "WRONG"} |`,
    );
  }
  if (micro)
    L.push("", `In process: UsageCounter.note() ${micro.nsPerNote.toFixed(0)} ns a call (median of 5 × 1,000,000 calls over 1,000 keys).`);
  return `${L.join("\n")}\n`;
}

/** What counting adds to a request, timed in this process: ns per UsageCounter.note(). */
function microNote(): { nsPerNote: number } {
  const counter = new UsageCounter();
  const ids = Array.from({ length: 1000 }, (_, i) => `key_${i.toString().padStart(20, "0")}`);
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) counter.note(ids[i % 1000]!, "requests");
    runs.push(Number(process.hrtime.bigint() - start) / 1_000_000);
    counter.take();
  }
  return { nsPerNote: medianBy(runs, (x) => x) };
}

async function main(): Promise<void> {
  const cfg = options(process.argv.slice(2));
  const before = os.loadavg();
  const results = await forEachBackend(cfg.backends, cfg.pgUrl, log, (backend) => benchBackend(backend, cfg));
  const micro = microNote();
  log(`UsageCounter.note(): ${micro.nsPerNote.toFixed(0)} ns a call`);
  const md = render(cfg, results, { before, after: os.loadavg() }, micro);
  if (cfg.out) writeFileSync(cfg.out, md);
  process.stdout.write(md);
}

await main();
