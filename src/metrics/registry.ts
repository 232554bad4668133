// The metrics one Keyward instance exposes at /metrics: one prom-client Registry per instance (never
// prom-client's global one), so several servers in one process (the tests) keep their own counts.
// Every label takes values from a fixed set (route families, status codes, verification reasons,
// oidc-provider event names, pool names): nothing a client sends becomes a label value as it is.
// What is read from elsewhere (the verification cache's counters, the database pools) is read when
// /metrics is scraped, never on a request's path.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { KeyCacheStats } from "../keys/lookup/index.js";
import type { RouteFamily } from "./families.js";

/** A pg.Pool's counts, read at scrape time (pg's own fields). */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options: { readonly max?: number };
}

/** What /metrics reads when scraped: the verification cache's counters and the PostgreSQL pools, where there are such things. */
export interface MetricSources {
  cacheStats?: () => KeyCacheStats | null;
  /** Named pools ("prisma", "key_lookup"); absent on SQLite, which has no pool. */
  pools?: () => Record<string, PoolCounts | undefined>;
}

/** Seconds buckets for requests and upstream answers: 1 ms … 10 s. */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Seconds buckets for one key-row read from the database: 50 µs … 1 s. */
const READ_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export interface Metrics {
  readonly registry: Registry;
  /** One answered request: its route family, status and time until the pipeline was done with it (a stream: until it ended). */
  request(family: RouteFamily, status: number, seconds: number): void;
  /** One verification's outcome: "ok" or the failure's reason (src/keys/verify/context.ts VerifyFailure). */
  verification(outcome: string): void;
  /** An oidc-provider event (src/metrics/oauth.ts lists the ones counted). */
  oauthEvent(event: string): void;
  /**
   * The gateway's request to an upstream: answered, with the time to its response headers in ms (not the stream's length), or
   * failed (no answer: 502/504, or it refused the gateway).
   */
  upstream(observation: { ok: true; latencyMs: number } | { ok: false }): void;
  /** One key-row read that went to the database (a cache miss or no cache), and how long it took. */
  keyRowRead(seconds: number): void;
}

/** Every metric name this module defines (besides prom-client's process_* and nodejs_* defaults); the dashboard test checks against it. */
export const METRIC_NAMES = [
  "keyward_http_requests_total",
  "keyward_http_request_duration_seconds",
  "keyward_key_verifications_total",
  "keyward_oauth_events_total",
  "keyward_gateway_upstream_duration_seconds",
  "keyward_gateway_upstream_failures_total",
  "keyward_key_cache_hits_total",
  "keyward_key_cache_misses_total",
  "keyward_key_cache_resets_total",
  "keyward_key_cache_rows",
  "keyward_key_row_read_duration_seconds",
  "keyward_db_pool_connections",
  "keyward_db_pool_max_connections",
] as const;

export function createMetrics(
  sources: MetricSources = {},
  options: { defaults?: boolean } = {},
): Metrics & { setSources(s: MetricSources): void } {
  const registry = new Registry();
  let current = sources;
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "keyward_http_requests_total",
    help: "HTTP requests answered, by route family and status code.",
    labelNames: ["family", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "keyward_http_request_duration_seconds",
    help: "Time from a request's arrival until its answer was written (a streamed answer: until the stream ended), by route family.",
    labelNames: ["family"] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const verifications = new Counter({
    name: "keyward_key_verifications_total",
    help: 'Key verifications, by outcome: "ok" or the reason the key was refused.',
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const oauth = new Counter({
    name: "keyward_oauth_events_total",
    help: "OAuth flow steps, by oidc-provider event (registration, authorization, interaction, grant, …).",
    labelNames: ["event"] as const,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: "keyward_gateway_upstream_duration_seconds",
    help: "Gateway: time until an upstream MCP server answered with its response headers (HTTP resources).",
    buckets: SECONDS,
    registers: [registry],
  });
  const upstreamFailures = new Counter({
    name: "keyward_gateway_upstream_failures_total",
    help: "Gateway: requests no upstream answer came for (unreachable, timed out, or refused the gateway): 502 and 504.",
    registers: [registry],
  });
  const keyRowReads = new Histogram({
    name: "keyward_key_row_read_duration_seconds",
    help: "Verification's key-row reads that went to the database (cache misses, or every read without a cache).",
    buckets: READ_SECONDS,
    registers: [registry],
  });

  // Read at scrape time from the verification cache's own counters (src/keys/lookup/cache.ts).
  const cacheCounter = (name: string, help: string, field: "hits" | "misses" | "resets") =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const stats = current.cacheStats?.();
        this.reset();
        if (stats) this.inc(stats[field]);
      },
    });
  cacheCounter("keyward_key_cache_hits_total", "Verification cache: key rows answered from memory.", "hits");
  cacheCounter("keyward_key_cache_misses_total", "Verification cache: key-row reads that went to the database.", "misses");
  cacheCounter("keyward_key_cache_resets_total", "Verification cache: times a committed change emptied it.", "resets");
  new Gauge({
    name: "keyward_key_cache_rows",
    help: "Verification cache: key rows held in memory (absent when the cache is off).",
    registers: [registry],
    collect() {
      const stats = current.cacheStats?.();
      this.reset();
      if (stats) this.set(stats.size);
    },
  });

  // PostgreSQL pools, as pg counts them: open connections, idle ones, and queries waiting for one.
  new Gauge({
    name: "keyward_db_pool_connections",
    help: "PostgreSQL connection pools: connections by state (total, idle) and queries waiting for a connection (waiting).",
    labelNames: ["pool", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [pool, counts] of Object.entries(current.pools?.() ?? {})) {
        if (!counts) continue;
        this.set({ pool, state: "total" }, counts.totalCount);
        this.set({ pool, state: "idle" }, counts.idleCount);
        this.set({ pool, state: "waiting" }, counts.waitingCount);
      }
    },
  });
  new Gauge({
    name: "keyward_db_pool_max_connections",
    help: "PostgreSQL connection pools: the most connections each may open.",
    labelNames: ["pool"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [pool, counts] of Object.entries(current.pools?.() ?? {})) {
        if (counts) this.set({ pool }, counts.options.max ?? 10); // pg's default max is 10
      }
    },
  });

  return {
    registry,
    setSources(s) {
      current = s;
    },
    request(family, status, seconds) {
      requests.inc({ family, status: String(status) });
      duration.observe({ family }, seconds);
    },
    verification(outcome) {
      verifications.inc({ outcome });
    },
    oauthEvent(event) {
      oauth.inc({ event });
    },
    upstream(observation) {
      if (observation.ok) upstream.observe(observation.latencyMs / 1000);
      else upstreamFailures.inc();
    },
    keyRowRead(seconds) {
      keyRowReads.observe(seconds);
    },
  };
}
