// The benchmark's Keyward processes on 127.0.0.1, started by the tests' own spawner
// (test/support/processes.ts) and tracked here so that one call stops them all on error or Ctrl-C.
// A target is a checkout and how to start it:
// - "bench": bench/serve.ts (the server as `npm start` builds it, plus the benchmark's routes of
//   bench/routes.ts), run with tsx; the default for a checkout that has it (this one);
// - "dist": the compiled server, node dist/main.js, with BENCH_ROUTES=true, which checkouts from before
//   bench/serve.ts existed read to mount their own src/http/bench-routes.ts (newer ones ignore it, so
//   a "dist" target of this checkout has no /__bench/ routes: fine for the real-request benchmark).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startInstance as spawnInstance, type Instance } from "../test/support/processes.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export { freePort, type Instance };

export interface Target {
  /** Shown in the report: "this checkout", "baseline", … */
  label: string;
  dir: string;
  entry: "bench" | "dist";
  /** Settings this target's instances get on top of the benchmark's (--metrics-check: METRICS_TOKEN on one side). */
  env?: Record<string, string>;
}

/** A checkout as a target: its bench/serve.ts when it has one, its dist/main.js otherwise (or as asked). */
export function targetOf(dir: string, label: string, entry?: Target["entry"]): Target {
  const abs = path.resolve(dir);
  const chosen = entry ?? (existsSync(path.join(abs, "bench", "serve.ts")) ? "bench" : "dist");
  if (chosen === "dist" && !existsSync(path.join(abs, "dist", "main.js")))
    throw new Error(`${abs}/dist/main.js is missing: run node scripts/build.mjs there first`);
  return { label, dir: abs, entry: chosen };
}

export const THIS_CHECKOUT = targetOf(ROOT, "this checkout");

/** The environment every benchmark instance gets; `env` adds to or overrides it. */
export function benchEnv(env: Record<string, string>): Record<string, string> {
  return {
    LOG_LEVEL: "warn", // no per-request log line: it would cost the same on both routes and blur the difference
    BENCH_ROUTES: "true", // read only by checkouts older than bench/serve.ts (see above)
    REGISTRATION_RATE_LIMIT: "1000000", // the OAuth runs register thousands of clients from one IP
    SHUTDOWN_DRAIN_SECONDS: "0", // the benchmark stops instances only when it is done with them
    ...env,
  };
}

const running = new Set<Instance>();

/**
 * Starts one instance of `target` (default this checkout with the benchmark's routes). With
 * `routes` (default true) it checks that /__bench/open answers.
 */
export async function startInstance(env: Record<string, string>, target: Target = THIS_CHECKOUT, routes = true): Promise<Instance> {
  const port = env.PORT ?? String(await freePort());
  const args = target.entry === "bench" ? ["--import", "tsx", "bench/serve.ts"] : ["dist/main.js"];
  const instance = await spawnInstance(
    { ISSUER: `http://127.0.0.1:${port}`, ...benchEnv(env), PORT: port },
    { dir: target.dir, args, readyMs: 60_000 },
  );
  const stop = instance.stop;
  instance.stop = async () => {
    running.delete(instance);
    return stop();
  };
  running.add(instance);
  if (routes) {
    const probe = await fetch(`${instance.url}/__bench/open`);
    if (probe.status !== 200) {
      await instance.stop();
      throw new Error(
        `/__bench/open answered ${probe.status} on ${target.label} (${target.entry}): the benchmark's routes are not mounted`,
      );
    }
  }
  return instance;
}

/** Stops every instance still running (on error or interrupt). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((i) => i.stop()));
}

/** The counters every version of keys.cacheStats() has kept (FIFO or LRU, before and after the lookup refactor). */
export interface CacheCounters {
  hits: number;
  misses: number;
  /** Times a commit emptied the cache. */
  resets: number;
  /** Round trips made to check for changes, where the cache counts them. */
  changeReads?: number;
}

/** The verification cache's counters (null with VERIFY_CACHE_SIZE=0), read through /__bench/stats. */
export async function cacheCounters(instance: Instance): Promise<CacheCounters | null> {
  const res = await fetch(`${instance.url}/__bench/stats`);
  const c = ((await res.json()) as { keyCache: CacheCounters | null }).keyCache;
  return c
    ? { hits: c.hits, misses: c.misses, resets: c.resets, ...(c.changeReads !== undefined && { changeReads: c.changeReads }) }
    : null;
}
