// `npm run bench -- --real`: a verified request as an MCP client makes it, not a no-op handler: POST /mcp,
// `tools/call` of the read tool `whoami` (stateless Streamable HTTP, JSON answer), each request with one of
// 1,000 real keys in turn. Reports req/s, p50/p99 and the server's CPU per request, on SQLite and PostgreSQL.
//
// Before/after: `--baseline-dir <checkout>` runs the same requests against a second checkout (its own
// fresh database, seeded with the same keys), the two taking turns round after round (A B, B A, …)
// because this shared machine's speed changes from one second to the next; the median of the
// per-round ratios is the comparison. `--entry-check` compares this checkout's compiled server
// (dist/main.js) with the benchmark's server (bench/serve.ts, tsx) instead.
//
// `--hit-rate`: the verification cache with more keys than rows (20,000 keys, VERIFY_CACHE_SIZE=10,000,
// a hot 20 % of the keys taking 80 % of the requests, on GET /__bench/key), hit rate read from the
// cache's own counters (/__bench/stats).
import { writeFileSync } from "node:fs";
import os from "node:os";
import { DEFAULT_PG_ADMIN_URL, type Backend, type BenchDatabase } from "./database.js";
import { forEachBackend, openBenchDatabase } from "./backends.js";
import { KEYED_LOAD_ARGS, keyedLoadOptionsOf, parseBenchArgs, positive, type KeyedLoadOptions } from "./options.js";
import { insertKeys, userIdOf } from "./seed.js";
import { cacheCounters, startInstance, targetOf, THIS_CHECKOUT, ROOT, type Instance, type Target } from "./servers.js";
import { medianBy, runLoad, runWhoamiLoad, usPerResponse, type LoadResult } from "./load.js";
import { mintKey, session, type Session } from "./oauth-client.js";
import { medianInterval } from "./report.js";
import { generateKey } from "../src/keys/format.js";

const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[real +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

const HELP = `npm run bench -- --real [options]
  --backends <list>      sqlite,postgresql (default both)
  --keys <n>             keys in the table, all used round-robin (default 1000)
  --rounds <n>           rounds; in each, every target serves --round-duration s (default 10)
  --round-duration <s>   seconds per target per round (default 2)
  --warmup <s>           warm-up per target before the rounds (default 2)
  --connections <n>      autocannon connections (default 10)
  --baseline-dir <dir>   a second checkout to compare with (built: its dist/ must exist)
  --dir <dir>            the checkout measured (default this one)
  --entry-check          compare this checkout's dist/main.js with bench/serve.ts (tsx)
  --metrics-check        compare this checkout without metrics and with them (METRICS_TOKEN set, /metrics unscraped)
  --hit-rate             also: 20,000 keys over VERIFY_CACHE_SIZE=10,000, hot 20 % → 80 % (per target)
  --hit-keys <n>         keys of the hit-rate case (default 20000); rows: --hit-rows (default 10000)
  --hit-requests <n>     requests counted in the hit-rate case (default 2 × --hit-keys), after one pass over every
                         key and 5 × --hit-rows requests of warm-up; on a busy machine scale the case down
                         (--hit-keys 2000 --hit-rows 1000: same proportions, a tenth of the requests)
  --pg-url <url>         PostgreSQL admin URL (default ${DEFAULT_PG_ADMIN_URL})
  --out <file>           also write the Markdown report there`;

interface Options extends KeyedLoadOptions {
  targets: Target[];
  hitRate: boolean;
  hitKeys: number;
  hitRows: number;
  hitRequests: number;
}

function options(argv: string[]): Options {
  const values = parseBenchArgs(argv, HELP, {
    ...KEYED_LOAD_ARGS,
    real: { type: "boolean" },
    "baseline-dir": { type: "string" },
    dir: { type: "string" },
    "entry-check": { type: "boolean" },
    "metrics-check": { type: "boolean" },
    "hit-rate": { type: "boolean" },
    "hit-keys": { type: "string" },
    "hit-rows": { type: "string" },
    "hit-requests": { type: "string" },
  });
  const text = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);
  const dir = text(values.dir);
  const baselineDir = text(values["baseline-dir"]);
  const measured = dir ? targetOf(dir, "measured") : THIS_CHECKOUT;
  const targets = values["entry-check"]
    ? [targetOf(ROOT, "bench/serve.ts (tsx)", "bench"), targetOf(ROOT, "dist/main.js (compiled)", "dist")]
    : values["metrics-check"]
      ? [
          { ...measured, label: "metrics off" },
          { ...measured, label: "metrics on", env: { METRICS_TOKEN: "bench-metrics-token-0123456789" } },
        ]
      : baselineDir
        ? [
            { ...targetOf(baselineDir, "baseline"), label: `baseline (${baselineDir})` },
            { ...measured, label: dir ? `measured (${dir})` : "this checkout" },
          ]
        : [measured];
  return {
    ...keyedLoadOptionsOf(values, { zeroRounds: true }), // --rounds 0: the hit-rate case alone
    targets,
    hitRate: values["hit-rate"] === true,
    hitKeys: Math.round(positive(values["hit-keys"], "hit-keys", 20_000)),
    hitRows: Math.round(positive(values["hit-rows"], "hit-rows", 10_000)),
    hitRequests: Math.round(positive(values["hit-requests"], "hit-requests", 2 * positive(values["hit-keys"], "hit-keys", 20_000))),
  };
}

/** One target on one backend: its database, its instance, the keys it was seeded with. */
interface Side {
  target: Target;
  db: BenchDatabase;
  instance: Instance;
  user: Session;
  userId: string;
}

interface SideResult {
  label: string;
  entry: Target["entry"];
  rounds: LoadResult[];
  /** Server CPU per request (µs) in each round. */
  cpuUs: (number | null)[];
  hitRate?: { hits: number; misses: number; resets: number; rate: number; requests: number };
}

interface BackendResult {
  backend: Backend;
  sides: SideResult[];
  /** Per round: the second target's req/s ÷ the first's, and its CPU per request ÷ the first's. */
  rpsRatios: number[];
  cpuRatios: number[];
}

const median = (v: number[]) => medianBy(v, (x) => x);
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

/** A deterministic pseudo-random sequence (mulberry32), so every target gets the same key order. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` picks over `keys`: the first 20 % of them take 80 % of the picks. */
function hotColdSequence(keys: string[], length: number): string[] {
  const next = random(23);
  const hot = Math.max(1, Math.floor(keys.length / 5));
  return Array.from({ length }, () =>
    next() < 0.8 ? keys[Math.floor(next() * hot)]! : keys[hot + Math.floor(next() * (keys.length - hot))]!,
  );
}

async function openSide(backend: Backend, target: Target, cfg: Options, env: Record<string, string>): Promise<Side> {
  const db = await openBenchDatabase(backend, cfg.pgUrl);
  try {
    const instance = await startInstance({ DATABASE_URL: db.url, ...env, ...target.env }, target, false);
    const user = await session(instance.url);
    return { target, db, instance, user, userId: await userIdOf(db, user.email) };
  } catch (err) {
    await db.drop();
    throw err;
  }
}

async function closeSide(side: Side): Promise<void> {
  await side.instance.stop();
  await side.db.drop();
}

async function benchBackend(backend: Backend, cfg: Options): Promise<BackendResult> {
  const sides: Side[] = [];
  try {
    // The cache holds every key of the hit-rate case only if asked; the default (10,000) otherwise.
    // The hit-rate case: the cache as asked, and no last-used flush (on SQLite every write empties the
    // cache, which would measure the flush interval instead of the eviction policy).
    const env: Record<string, string> = cfg.hitRate ? { VERIFY_CACHE_SIZE: String(cfg.hitRows), LAST_USED_FLUSH_SECONDS: "3600" } : {};
    for (const target of cfg.targets) {
      log(`${backend}: starting ${target.label} (${target.entry})`);
      sides.push(await openSide(backend, target, cfg, env));
    }
    // The keys: one minted by the app gives the prefix; then the same raw keys go into every database.
    const first = sides[0]!;
    const minted = await mintKey(first.user, "real-request probe");
    const prefix = minted.key.slice(0, minted.key.lastIndexOf("_") + 1);
    const raws = Array.from({ length: cfg.keys }, () => generateKey(prefix));
    for (const side of sides) await insertKeys(side.db, side.userId, raws, "real-request");
    const load = (side: Side, duration: number, keys = raws) => runWhoamiLoad(side.instance, keys, cfg.connections, duration);
    for (const side of sides) {
      const warm = await load(side, cfg.warmup);
      if ((warm.statuses["200"] ?? 0) !== warm.requests)
        throw new Error(`${side.target.label}: not every tools/call answered 200: ${JSON.stringify(warm.statuses)}`);
    }
    const results: SideResult[] = sides.map((s) => ({ label: s.target.label, entry: s.target.entry, rounds: [], cpuUs: [] }));
    const rpsRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      // Each target leads in half of the rounds (the lead reads about a point lower: bench/README.md).
      const order = sides.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      const round: LoadResult[] = [];
      for (const i of order) round[i] = await load(sides[i]!, cfg.roundSeconds);
      round.forEach((res, i) => {
        results[i]!.rounds.push(res);
        results[i]!.cpuUs.push(res.serverCpuMs !== undefined ? usPerResponse(res.serverCpuMs, res.requests) : null);
      });
      const line = round
        .map(
          (res, i) =>
            `${results[i]!.label}: ${res.rps.toFixed(0)} req/s p99 ${res.p99.toFixed(2)} ms ${results[i]!.cpuUs[r]?.toFixed(1) ?? "?"} µs`,
        )
        .join("; ");
      if (round.length === 2) {
        rpsRatios.push(round[1]!.rps / round[0]!.rps);
        const [c0, c1] = [results[0]!.cpuUs[r], results[1]!.cpuUs[r]];
        if (c0 && c1) cpuRatios.push(c1 / c0);
      }
      log(`${backend} round ${r + 1}/${cfg.rounds}: ${line}`);
    }
    if (cfg.hitRate) {
      for (const [i, side] of sides.entries()) {
        if (!(await cacheCounters(side.instance).catch(() => null))) {
          log(
            `${backend}: ${side.target.label}: no /__bench/stats (a plain dist/main.js of a checkout without src/http/bench-routes.ts), hit rate skipped`,
          );
          continue;
        }
        const more = Array.from({ length: Math.max(0, cfg.hitKeys - cfg.keys) }, () => generateKey(prefix));
        await insertKeys(side.db, side.userId, more, "real-request hit rate");
        const all = [...raws, ...more];
        // Warm-up: five times as many requests as rows, so that even a first-in-first-out cache has
        // turned over several times (a window shorter than that would show both policies alike);
        // then the counted requests, the same sequence continuing.
        const warm = 5 * cfg.hitRows;
        const sequence = hotColdSequence(all, warm + cfg.hitRequests);
        // The cheapest verified route (same cache, same key check): many more requests per second than tools/call.
        const run = (keys: string[]) =>
          runLoad({
            url: side.instance.url,
            path: "/__bench/key",
            keys,
            connections: cfg.connections,
            duration: 600,
            amount: keys.length,
            awake: true,
          });
        await run(all); // every key once: the cache starts full
        await run(sequence.slice(0, warm));
        const before = (await cacheCounters(side.instance))!;
        const measured = await run(sequence.slice(warm));
        const after = (await cacheCounters(side.instance))!;
        const hits = after.hits - before.hits;
        const misses = after.misses - before.misses;
        const hitRate = {
          hits,
          misses,
          resets: after.resets - before.resets,
          rate: hits / Math.max(1, hits + misses),
          requests: measured.requests,
        };
        results[i]!.hitRate = hitRate;
        log(
          `${backend}: ${side.target.label}: hit rate ${pct(hitRate.rate)} (${hits} hits, ${misses} misses, ${hitRate.resets} resets, ${measured.requests} requests)`,
        );
      }
    }
    return { backend, sides: results, rpsRatios, cpuRatios };
  } finally {
    for (const side of sides) await closeSide(side).catch(() => {});
  }
}

function render(cfg: Options, results: BackendResult[], load: { before: number[]; after: number[] }): string {
  const L: string[] = [];
  L.push(`## Real request: MCP tools/call (whoami), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`, "");
  L.push(
    `${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores; load average ${load.before.map((l) => l.toFixed(2)).join(" ")} before, ${load.after.map((l) => l.toFixed(2)).join(" ")} after. ${cfg.keys.toLocaleString("en")} keys used round-robin, ${cfg.connections} connections, awake client, ${cfg.rounds} rounds × ${cfg.roundSeconds} s per target (taking turns, lead alternating).`,
    "",
  );
  L.push("| Backend | Target | req/s (median round) | p50 ms | p99 ms | server CPU µs/request (median) |", "|---|---|---:|---:|---:|---:|");
  for (const r of results) {
    for (const s of r.sides) {
      if (!s.rounds.length) continue;
      const m = medianBy(s.rounds, (x) => x.rps);
      const cpu = s.cpuUs.filter((c): c is number => c !== null);
      L.push(
        `| ${r.backend} | ${s.label} (${s.entry}) | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${cpu.length ? median(cpu).toFixed(1) : "?"} |`,
      );
    }
  }
  L.push("");
  for (const r of results) {
    if (r.sides.length !== 2 || !r.rpsRatios.length) continue;
    const ci = medianInterval(r.rpsRatios);
    const cci = medianInterval(r.cpuRatios);
    L.push(
      `- ${r.backend}: **${r.sides[1]!.label} ÷ ${r.sides[0]!.label}: req/s ${pct(median(r.rpsRatios))}**${ci ? ` (${Math.round(ci.coverage * 100)} % interval ${pct(ci.lo)}–${pct(ci.hi)})` : ""}, server CPU per request ${r.cpuRatios.length ? pct(median(r.cpuRatios)) : "?"}${cci ? ` (${pct(cci.lo)}–${pct(cci.hi)})` : ""}; per round ${r.rpsRatios.map(pct).join(", ")}.`,
    );
  }
  const hits = results.flatMap((r) => r.sides.filter((s) => s.hitRate).map((s) => ({ backend: r.backend, s })));
  if (hits.length) {
    L.push(
      "",
      `Verification cache with more keys than rows: ${cfg.hitKeys.toLocaleString("en")} keys, VERIFY_CACHE_SIZE=${cfg.hitRows.toLocaleString("en")}, the hottest 20 % of the keys taking 80 % of the requests (the same order for every target), on GET /__bench/key (the same key check, far more requests per second than tools/call), ${cfg.hitRequests.toLocaleString("en")} requests counted after one pass over every key and ${(5 * cfg.hitRows).toLocaleString("en")} requests of warm-up, LAST_USED_FLUSH_SECONDS=3600; resets are commits that emptied the cache (on SQLite any write, e.g. a last-used flush):`,
      "",
    );
    L.push("| Backend | Target | hit rate | hits | misses | resets | requests |", "|---|---|---:|---:|---:|---:|---:|");
    for (const { backend, s } of hits)
      L.push(
        `| ${backend} | ${s.label} | **${pct(s.hitRate!.rate)}** | ${s.hitRate!.hits} | ${s.hitRate!.misses} | ${s.hitRate!.resets} | ${s.hitRate!.requests} |`,
      );
  }
  return `${L.join("\n")}\n`;
}

export async function realRequestMain(argv: string[]): Promise<void> {
  const cfg = options(argv);
  const before = os.loadavg();
  log(
    `targets: ${cfg.targets.map((t) => `${t.label} [${t.dir}, ${t.entry}]`).join(" vs ")}; load average ${before.map((l) => l.toFixed(2)).join(" ")}`,
  );
  const results = await forEachBackend(cfg.backends, cfg.pgUrl, log, (backend) => benchBackend(backend, cfg));
  const md = render(cfg, results, { before, after: os.loadavg() });
  if (cfg.out) writeFileSync(cfg.out, md);
  process.stdout.write(md);
}
