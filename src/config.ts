// Every setting, parsed and validated once from the environment.
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default("0.0.0.0"),
    ISSUER: z.url().optional(),
    DATABASE_URL: z.string().min(1).default("file:./data/keyward.db"),
    KEY_PREFIX: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,15}_([a-z0-9]{1,16}_)?$/, "KEY_PREFIX must look like kw_user_ or bb_ (lowercase, ends with _)")
      .default("kw_user_"),
    ALLOW_SIGNUP: bool.default(true),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    TRUST_PROXY: bool.default(false),
    SESSION_TTL_HOURS: z.coerce.number().positive().default(24 * 14),
    LAST_USED_FLUSH_SECONDS: z.coerce.number().positive().default(60),
    LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(5),
    LOGIN_WINDOW_MINUTES: z.coerce.number().positive().default(15),
    SCOPES: z.string().default("mcp:read mcp:write"),
    REGISTRATION: z.enum(["open", "closed"]).default("open"),
    REGISTRATION_RATE_LIMIT: z.coerce.number().int().positive().default(20),
    CLIENT_PURGE_HOURS: z.coerce.number().positive().default(24),
    CLIENT_ID_METADATA_DOCUMENTS: bool.default(true),
    CIMD_ALLOW_LOOPBACK: bool.default(false),
    COOKIE_SECRET: z.string().min(32, "COOKIE_SECRET must be at least 32 characters").optional(),
  })
  .transform((env) => {
    const baseUrl = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, "");
    return {
      port: env.PORT,
      host: env.HOST,
      baseUrl,
      secureCookies: baseUrl.startsWith("https://"),
      databaseUrl: env.DATABASE_URL,
      keyPrefix: env.KEY_PREFIX,
      allowSignup: env.ALLOW_SIGNUP,
      logLevel: env.LOG_LEVEL,
      trustProxy: env.TRUST_PROXY,
      sessionTtlMs: env.SESSION_TTL_HOURS * 3600_000,
      lastUsedFlushMs: env.LAST_USED_FLUSH_SECONDS * 1000,
      loginMaxFailures: env.LOGIN_MAX_FAILURES,
      loginWindowMs: env.LOGIN_WINDOW_MINUTES * 60_000,
      cookieSecret: env.COOKIE_SECRET,
      scopes: env.SCOPES.split(/[\s,]+/).filter(Boolean),
      registration: env.REGISTRATION,
      registrationPerHour: env.REGISTRATION_RATE_LIMIT,
      clientPurgeMs: env.CLIENT_PURGE_HOURS * 3600_000,
      clientIdMetadataDocuments: env.CLIENT_ID_METADATA_DOCUMENTS,
      /** Test mode only: lets metadata documents live on loopback, fetched over plain http. */
      cimdAllowLoopback: env.CIMD_ALLOW_LOOPBACK,
    };
  });

export type Config = z.output<typeof schema>;

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
