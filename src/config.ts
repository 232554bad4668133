// Every setting, parsed and validated once from the environment.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { compileLegacyPattern } from "./keys/legacy.js";
import { parseTrustedProxies, type TrustedProxies } from "./http/client-address.js";
import { parsePublicKeys } from "./secret-scanning/signature.js";
import { buildCatalogue, catalogueFromNames, CatalogueError, scopeNames, type ScopeCatalogue } from "./scopes/catalogue.js";
import { loadUpstreamProviders } from "./upstream-login/config.js";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes");

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default("0.0.0.0"),
    ISSUER: z.url().optional(),
    DATABASE_URL: z
      .string()
      .min(1)
      .superRefine((url, ctx) => {
        const problem = databaseUrlProblem(url);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .default("file:./data/keyward.db"),
    KEY_PREFIX: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,15}_([a-z0-9]{1,16}_)?$/, "KEY_PREFIX must look like kw_user_ or bb_ (lowercase, ends with _)")
      .default("kw_user_"),
    ALLOW_SIGNUP: bool.default(true),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    TRUST_PROXY: bool.default(false),
    /**
     * Reverse proxies in front of Keyward: a hop count, or their addresses / CIDR ranges (src/http/client-address.ts). Wins over
     * TRUST_PROXY.
     */
    TRUSTED_PROXIES: z.string().max(5000).superRefine(problemOf(parseTrustedProxies, "TRUSTED_PROXIES")).optional(),
    SESSION_TTL_HOURS: z.coerce
      .number()
      .positive()
      .default(24 * 14),
    LAST_USED_FLUSH_SECONDS: z.coerce.number().positive().default(60),
    /** PostgreSQL: how often each instance adds its rate-limit counts to the shared ones (src/keys/limits/rate-limiter.ts). */
    KEY_RATE_LIMIT_FLUSH_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
    /** Requests per key and hour, flushed with last-used (docs/key-lifecycle.md#usage); false turns counting off. */
    KEY_USAGE_COUNTING: bool.default(true),
    /**
     * After SIGTERM: how long /readyz answers 503 "stopping" while requests are still served (Connection: close), before the listener
     * closes.
     */
    SHUTDOWN_DRAIN_SECONDS: z.coerce.number().min(0).max(300).default(5),
    /** Key rows kept in memory for verification (0 turns the cache off); see docs/performance.md. */
    VERIFY_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
    /**
     * PostgreSQL: how long an instance answers from memory without renewing its lease; a revocation waits at most this long for a stuck
     * instance.
     */
    VERIFY_CACHE_LEASE_SECONDS: z.coerce.number().min(0.5).max(300).default(5),
    /**
     * PostgreSQL: follow the key-change feed (LISTEN/NOTIFY, needs a session-level connection); false checks the database on every request.
     */
    VERIFY_CACHE_FEED: bool.default(true),
    LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(5),
    LOGIN_WINDOW_MINUTES: z.coerce.number().positive().default(15),
    SCOPES: z.string().default("mcp:read mcp:write"),
    /** JSON file: [{ name, description, implies?: [...], readOnly? }]; wins over SCOPES (docs/permissions.md). */
    SCOPES_FILE: z.string().optional(),
    /** JSON file of protected resources, applied at every start (docs/gateway.md, src/resources/file.ts). */
    RESOURCES_FILE: z.string().optional(),
    REGISTRATION: z.enum(["open", "closed"]).default("open"),
    REGISTRATION_RATE_LIMIT: z.coerce.number().int().positive().default(20),
    CLIENT_PURGE_HOURS: z.coerce.number().positive().default(24),
    CLIENT_ID_METADATA_DOCUMENTS: bool.default(true),
    CIMD_ALLOW_LOOPBACK: bool.default(false),
    COOKIE_SECRET: z.string().min(32, "COOKIE_SECRET must be at least 32 characters").optional(),
    /** Shape of imported legacy keys that may skip the Keyward format check (docs/cli.md, api-keys import). */
    LEGACY_KEY_PATTERN: z.string().max(500).superRefine(problemOf(compileLegacyPattern, "LEGACY_KEY_PATTERN")).optional(),
    /** Enables POST /api/secret-scanning/report with HMAC-SHA256 signatures (docs/secret-scanning.md). */
    SECRET_SCANNING_SECRET: z.string().min(32, "SECRET_SCANNING_SECRET must be at least 32 characters").optional(),
    /** Enables the same endpoint for GitHub's ECDSA signatures: PEM public keys, one or more. */
    SECRET_SCANNING_PUBLIC_KEYS: z.string().max(100_000).superRefine(problemOf(parsePublicKeys, "SECRET_SCANNING_PUBLIC_KEYS")).optional(),
    /** The gateway (src/gateway/): how long an upstream MCP server may take to connect and answer with headers before a 504. */
    GATEWAY_UPSTREAM_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(60),
    /** The gateway: the largest POST body it reads (and forwards) before answering 413. */
    GATEWAY_MAX_BODY_KB: z.coerce.number().int().positive().max(1_048_576).default(4096),
    /** The gateway: requests and streams one key may have open at once on one instance; more get 429. */
    GATEWAY_STREAMS_PER_KEY: z.coerce.number().int().positive().max(100_000).default(16),
    /** stdio resources (src/gateway/stdio/): a session's process with no open request for this long is ended. */
    GATEWAY_STDIO_IDLE_SECONDS: z.coerce.number().positive().max(86_400).default(600),
    /** stdio resources: processes one resource may have running on one instance; more get 503 with Retry-After. */
    GATEWAY_STDIO_MAX_PER_RESOURCE: z.coerce.number().int().positive().max(10_000).default(50),
    /** stdio resources: processes all stdio resources together may have running on one instance. */
    GATEWAY_STDIO_MAX: z.coerce.number().int().positive().max(10_000).default(200),
    /** stdio resources: sessions (processes) one user may have per resource; a new one ends that user's least recently used. */
    GATEWAY_STDIO_SESSIONS_PER_USER: z.coerce.number().int().positive().max(1000).default(4),
    /** stdio resources: how often each instance checks that every process's user still holds an active key for its resource. */
    GATEWAY_STDIO_CHECK_SECONDS: z.coerce.number().positive().max(3600).default(30),
    // Observability (docs/observability.md): GET /metrics for a scraper that sends this bearer token; unset, /metrics is a 404.
    METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").max(1000).optional(),
    // Email (src/mail/, docs/email.md): unset SMTP_URL sends nothing (a debug log line instead).
    /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465; nodemailer's connection URL. */
    SMTP_URL: z
      .string()
      .max(2000)
      .refine(
        (v) => /^smtps?:\/\/[^\s]+$/i.test(v) && URL.canParse(v),
        "SMTP_URL must look like smtp://user:password@host:587 or smtps://…",
      )
      .optional(),
    /** The From of every mail, e.g. "Keyward <keyward@example.com>"; default keyward@ the ISSUER's host name. */
    MAIL_FROM: z.string().max(500).optional(),
    /** required: a new account logs in only after following the link mailed at sign-up (needs SMTP_URL); off: no check. */
    EMAIL_VERIFICATION: z.enum(["required", "off"]).default("off"),
    TOTP_ENCRYPTION_KEY: z
      .string()
      .refine(
        (v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, "base64").length === 32,
        "TOTP_ENCRYPTION_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)",
      )
      .optional(),
    // Issue 29: upstream identity providers (src/upstream-login/, docs/upstream-login.md).
    /** JSON array of OpenID Connect providers offered on the log-in page; UPSTREAM_PROVIDERS_FILE wins over UPSTREAM_PROVIDERS. */
    UPSTREAM_PROVIDERS: z.string().max(100_000).optional(),
    UPSTREAM_PROVIDERS_FILE: z.string().optional(),
    /** off: no password log-in or sign-up; only the upstream providers let people in. */
    LOCAL_PASSWORDS: z.enum(["on", "off", "true", "false"]).default("on"),
  })
  .transform((raw, ctx) => {
    const scopeCatalogue = loadScopeCatalogue(raw.SCOPES_FILE, raw.SCOPES);
    if (typeof scopeCatalogue === "string") {
      ctx.addIssue({ code: "custom", path: [raw.SCOPES_FILE ? "SCOPES_FILE" : "SCOPES"], message: scopeCatalogue });
      return z.NEVER;
    }
    // Issue 29: upstream identity providers.
    const upstreamProviders = loadUpstreamProviders(raw.UPSTREAM_PROVIDERS_FILE, raw.UPSTREAM_PROVIDERS);
    if (typeof upstreamProviders === "string") {
      ctx.addIssue({
        code: "custom",
        path: [raw.UPSTREAM_PROVIDERS_FILE ? "UPSTREAM_PROVIDERS_FILE" : "UPSTREAM_PROVIDERS"],
        message: upstreamProviders,
      });
      return z.NEVER;
    }
    const localPasswords = raw.LOCAL_PASSWORDS === "on" || raw.LOCAL_PASSWORDS === "true";
    if (!localPasswords && upstreamProviders.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["LOCAL_PASSWORDS"],
        message: "LOCAL_PASSWORDS=off needs at least one upstream provider (UPSTREAM_PROVIDERS), or nobody could log in",
      });
      return z.NEVER;
    }
    const env = { ...raw, scopeCatalogue };
    if (env.EMAIL_VERIFICATION === "required" && !env.SMTP_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["EMAIL_VERIFICATION"],
        message: "EMAIL_VERIFICATION=required needs SMTP_URL (the link is mailed)",
      });
      return z.NEVER;
    }
    // TRUST_PROXY=true keeps its old meaning for the shipped deployment: one proxy (nginx) in front.
    const trustedProxies: TrustedProxies =
      env.TRUSTED_PROXIES !== undefined
        ? parseTrustedProxies(env.TRUSTED_PROXIES)
        : env.TRUST_PROXY
          ? { kind: "hops", hops: 1 }
          : { kind: "none" };
    const baseUrl = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, "");
    return {
      port: env.PORT,
      host: env.HOST,
      baseUrl,
      secureCookies: baseUrl.startsWith("https://"),
      databaseUrl: env.DATABASE_URL,
      keyPrefix: env.KEY_PREFIX,
      allowSignup: env.ALLOW_SIGNUP && localPasswords, // sign-up makes a password account: none with LOCAL_PASSWORDS=off
      logLevel: env.LOG_LEVEL,
      /** Whether a proxy's X-Forwarded-Proto / -Host are believed (Koa's app.proxy). */
      trustProxy: trustedProxies.kind !== "none",
      /** Who may tell us the client's address in X-Forwarded-For; read only by src/http/client-address.ts. */
      trustedProxies,
      sessionTtlMs: env.SESSION_TTL_HOURS * 3600_000,
      lastUsedFlushMs: env.LAST_USED_FLUSH_SECONDS * 1000,
      keyRateLimitFlushMs: env.KEY_RATE_LIMIT_FLUSH_MS,
      usageCounting: env.KEY_USAGE_COUNTING,
      shutdownDrainMs: env.SHUTDOWN_DRAIN_SECONDS * 1000,
      verifyCacheSize: env.VERIFY_CACHE_SIZE,
      verifyCacheLeaseMs: env.VERIFY_CACHE_LEASE_SECONDS * 1000,
      verifyCacheFeed: env.VERIFY_CACHE_FEED,
      loginMaxFailures: env.LOGIN_MAX_FAILURES,
      loginWindowMs: env.LOGIN_WINDOW_MINUTES * 60_000,
      cookieSecret: env.COOKIE_SECRET,
      legacyKeyPattern: env.LEGACY_KEY_PATTERN ? compileLegacyPattern(env.LEGACY_KEY_PATTERN) : undefined,
      secretScanning: { secret: env.SECRET_SCANNING_SECRET, publicKeys: env.SECRET_SCANNING_PUBLIC_KEYS },
      /** Encrypts TOTP secrets at rest; generated once and kept in the database when unset. */
      totpEncryptionKey: env.TOTP_ENCRYPTION_KEY,
      /** Scope names of the catalogue, in order. */
      scopes: scopeNames(env.scopeCatalogue),
      /** The operator's scope catalogue: names, descriptions, implications. */
      scopeCatalogue: env.scopeCatalogue,
      gateway: {
        upstreamTimeoutMs: Math.round(env.GATEWAY_UPSTREAM_TIMEOUT_SECONDS * 1000),
        maxBodyBytes: env.GATEWAY_MAX_BODY_KB * 1024,
        streamsPerKey: env.GATEWAY_STREAMS_PER_KEY,
        stdio: {
          idleMs: Math.round(env.GATEWAY_STDIO_IDLE_SECONDS * 1000),
          maxPerResource: env.GATEWAY_STDIO_MAX_PER_RESOURCE,
          max: env.GATEWAY_STDIO_MAX,
          sessionsPerUser: env.GATEWAY_STDIO_SESSIONS_PER_USER,
          checkMs: Math.round(env.GATEWAY_STDIO_CHECK_SECONDS * 1000),
        },
      },
      /** RESOURCES_FILE: read and applied at start (src/server.ts), not here, so other commands never depend on it. */
      resourcesFile: env.RESOURCES_FILE || undefined,
      registration: env.REGISTRATION,
      registrationPerHour: env.REGISTRATION_RATE_LIMIT,
      clientPurgeMs: env.CLIENT_PURGE_HOURS * 3600_000,
      clientIdMetadataDocuments: env.CLIENT_ID_METADATA_DOCUMENTS,
      /** Test mode only: lets metadata documents live on loopback, fetched over plain http. */
      cimdAllowLoopback: env.CIMD_ALLOW_LOOPBACK,
      /** Observability: METRICS_TOKEN; undefined turns metrics off (nothing counted, /metrics 404). */
      metricsToken: env.METRICS_TOKEN,
      // Issue 29: upstream identity providers (src/upstream-login/).
      upstreamProviders,
      /** Password log-in and sign-up; false when LOCAL_PASSWORDS=off. */
      localPasswords,
      /** Email (src/mail/): smtpUrl undefined = mail off. */
      mail: {
        smtpUrl: env.SMTP_URL,
        from: env.MAIL_FROM ?? `Keyward <keyward@${new URL(baseUrl).hostname}>`,
        verification: env.EMAIL_VERIFICATION,
      },
    };
  });

export type Config = z.output<typeof schema>;

/** The catalogue from SCOPES_FILE, or from the SCOPES list; a string describes what is wrong. */
function loadScopeCatalogue(file: string | undefined, names: string): ScopeCatalogue | string {
  try {
    if (!file) return catalogueFromNames(names.split(/[\s,]+/).filter(Boolean));
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return `${file} is not valid JSON`;
    }
    return buildCatalogue(json);
  } catch (err) {
    if (err instanceof CatalogueError) return `invalid scope catalogue: ${err.problems.join("; ")}`;
    throw err;
  }
}

/** A zod check from a parser that throws: its message becomes the issue. */
function problemOf(parse: (value: string) => unknown, name: string) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      parse(value);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `${name} ${err instanceof Error ? err.message : String(err)}` });
    }
  };
}

/**
 * Why a DATABASE_URL cannot be used, or null: only `file:<path>` (SQLite) and `postgres://` /
 * `postgresql://` URLs are accepted, so a typo or another database's URL (`mysql://…`) is refused
 * instead of silently becoming a SQLite file of that name. The message does not repeat the URL
 * (it may hold a password).
 */
export function databaseUrlProblem(url: string): string | null {
  if (/^postgres(ql)?:\/\//i.test(url))
    return /^postgres(ql)?:\/\/\S+$/i.test(url) && URL.canParse(url)
      ? null
      : "not a valid PostgreSQL URL (postgresql://user@host:5432/name)";
  if (url.startsWith("file:")) {
    const file = url.slice("file:".length);
    return file === "" || file === ":memory:" ? "must name a SQLite file, e.g. file:./data/keyward.db" : null;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  return `${scheme ? `the scheme ${scheme}: is not supported` : "not a database URL"}; use file:<path> for SQLite or postgresql://… for PostgreSQL`;
}

export class ConfigError extends Error {}

/** Parses the environment (or the given overrides on top of it); throws ConfigError with every problem listed. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "env"}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}
