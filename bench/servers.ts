// Real Keyward processes (node dist/main.js, the compiled build) on 127.0.0.1, as in test/support/processes.ts,
// with the gated benchmark routes switched on.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../test/support/processes.js";
import { ensureBuilt } from "../scripts/build.mjs";
import type { KeyCacheStats } from "../src/keys/lookup/cache.js";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// One free-port helper for the tests and the benchmark.
export { freePort };

export interface Instance {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  /** SIGTERM (a clean shutdown: last-used is flushed), then waits for the exit code. */
  stop(): Promise<number | null>;
}

/** The environment every benchmark instance gets; `env` adds to or overrides it. */
export function benchEnv(env: Record<string, string>): Record<string, string> {
  return {
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn", // no per-request log line: it would cost the same on both routes and blur the difference
    BENCH_ROUTES: "true",
    REGISTRATION_RATE_LIMIT: "1000000", // the OAuth runs register thousands of clients from one IP
    ...env,
  };
}

const running = new Set<Instance>();

export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  ensureBuilt();
  const child = spawn(process.execPath, ["dist/main.js"], {
    cwd: root,
    env: { ...process.env, ISSUER: url, ...benchEnv(env), PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const instance: Instance = {
    url,
    child,
    output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      running.delete(instance);
      return code;
    },
  };
  running.add(instance);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance exited early: ${output.join("")}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await instance.stop();
      throw new Error(`instance not ready: ${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const probe = await fetch(`${url}/__bench/open`);
  if (probe.status !== 200) {
    await instance.stop();
    throw new Error(`/__bench/open answered ${probe.status}: is BENCH_ROUTES wired in src/app.ts?`);
  }
  return instance;
}

/** Stops every instance still running (on error or interrupt). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((i) => i.stop()));
}

export type CacheCounters = Omit<KeyCacheStats, "size">;

async function stats(instance: Instance): Promise<{ lastUsedWrites: number; keyCache: KeyCacheStats | null }> {
  const res = await fetch(`${instance.url}/__bench/stats`);
  return (await res.json()) as { lastUsedWrites: number; keyCache: KeyCacheStats | null };
}

export async function lastUsedWrites(instance: Instance): Promise<number> {
  return (await stats(instance)).lastUsedWrites;
}

/** The verification cache's counters (null with VERIFY_CACHE_SIZE=0). */
export async function cacheCounters(instance: Instance): Promise<CacheCounters | null> {
  const c = (await stats(instance)).keyCache;
  return c ? { hits: c.hits, misses: c.misses, resets: c.resets } : null;
}
