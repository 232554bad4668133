// Everything a request handler or the CLI needs, built once from the config.
import type { Config } from "./config.js";
import { createDb, type Db } from "./db/client.js";
import { openKeyLookup, type KeyLookup } from "./keys/lookup/index.js";
import { announcingKeyWrites } from "./keys/lookup/announce.js";
import { migrate } from "./db/migrate.js";
import { createKeys, type Keys } from "./keys/index.js";
import { createResources, type Resources } from "./resources/index.js";
import { createUsers, type Users } from "./accounts/users.js";
import { createSessions, type Sessions } from "./accounts/sessions.js";
import { createRateLimiter, type RateLimiter } from "./accounts/rate-limit.js";
import type { Logger } from "./log.js";
import { createAudit, type Audit } from "./audit/index.js";
import { createOrganizations, type Organizations } from "./orgs/organizations.js";
import { cookieSecrets, tokenSigningJwks, totpEncryptionSecret, type PrivateJwks } from "./secrets.js";
import { createTwoFactor, type TwoFactor } from "./accounts/two-factor.js";
import { createPendingLogins, type PendingLogins } from "./accounts/pending-logins.js";
import { createKeyRateLimiter, type KeyRateLimiter } from "./keys/limits/rate-limiter.js";
import { providerOfDb } from "./db/provider.js";
import { createStdioPool, type StdioPool } from "./gateway/stdio/processes.js";
import { createMetrics, observeVerify, type Metrics } from "./metrics/index.js";
import { poolOfDb } from "./db/client.js";
import { createDoctor, type Doctor } from "./doctor/index.js"; // issue 26: connection doctor
// Email (src/mail/)
import { createMailer, type Mailer } from "./mail/mailer.js";
import { revokedByOthersNotifier } from "./mail/notices.js";

export interface Services {
  config: Config;
  logger: Logger;
  db: Db;
  keys: Keys;
  /** How verification finds key rows: the database driver behind the verification cache (src/keys/lookup/). */
  keyLookup: KeyLookup;
  users: Users;
  sessions: Sessions;
  rateLimiter: RateLimiter;
  /** Rate limits per key at /mcp and the gateway (src/keys/limits/rate-limiter.ts). */
  keyRateLimiter: KeyRateLimiter;
  audit: Audit;
  /** The MCP servers the gateway protects (src/resources/). */
  resources: Resources;
  /** The gateway's stdio server processes on this instance, one per user session (src/gateway/stdio/); ended by close(). */
  stdioProcesses: StdioPool;
  /** Organisations, memberships and apps (src/orgs). */
  orgs: Organizations;
  /** TOTP + backup codes (src/accounts/two-factor.ts). */
  twoFactor: TwoFactor;
  /** Log-ins waiting for their second factor. */
  pendingLogins: PendingLogins;
  /** Made on first start, shared through the database (src/secrets.ts). */
  secrets: { cookieSecrets: string[]; tokenSigningJwks: PrivateJwks };
  /** The connection doctor (src/doctor/, issue 26): steps and failures of OAuth connections, per client and user. */
  doctor: Doctor;
  /** Email (src/mail/): SMTP when SMTP_URL is set, else a no-op; sending never blocks a request. */
  mailer: Mailer;
  /** True once shutdown has begun (readiness turns 503). */
  stopping: boolean;
  /**
   * PostgreSQL: waits until every instance's verification cache has dropped what was changed
   * (src/keys/lookup/announce.ts); used by app.ts after requests that changed keys, roles or members.
   */
  announceKeyWrites?: () => Promise<void>;
  /** Observability (src/metrics/): this instance's registry; undefined without METRICS_TOKEN (nothing is counted). */
  metrics?: Metrics;
  /** Ends every stdio server process, flushes last-used times and closes the database. */
  close(): Promise<void>;
}

export interface OpenOptions {
  migrate?: boolean;
  /** Keep verified keys in memory (VERIFY_CACHE_SIZE); off for one-shot CLI commands. Default true. */
  verifyCache?: boolean;
}

export async function openServices(config: Config, logger: Logger, options: OpenOptions = {}): Promise<Services> {
  if (options.migrate ?? true) await migrate(config.databaseUrl);
  const metrics = config.metricsToken ? createMetrics() : undefined; // observability: read below, and in app.ts
  const lookup = openKeyLookup(config.databaseUrl, {
    onRead: metrics && ((seconds) => metrics.keyRowRead(seconds)),
    cacheSize: (options.verifyCache ?? true) ? config.verifyCacheSize : 0,
    leaseMs: config.verifyCacheLeaseMs,
    changeFeed: config.verifyCacheFeed,
    onError: (err) => logger.warn({ err }, "key-change feed: verification reads the database on every request until it is back"),
  });
  const db = announcingKeyWrites(await createDb(config.databaseUrl), lookup.announce);
  metrics?.setSources({ cacheStats: () => lookup.stats(), pools: () => ({ prisma: poolOfDb(db), key_lookup: lookup.pool }) });
  const mailer = createMailer(config.mail, logger); // Email (src/mail/)
  const keys = createKeys(db, {
    prefix: config.keyPrefix,
    scopes: config.scopes,
    lastUsedFlushMs: config.lastUsedFlushMs,
    usageCounting: config.usageCounting,
    legacyKeyPattern: config.legacyKeyPattern,
    catalogue: config.scopeCatalogue,
    reader: lookup.reader,
    onError: (err) => logger.error({ err }, "last-used flush failed"),
    onRevoked: revokedByOthersNotifier(mailer, config.baseUrl), // Email: the owner learns of keys others revoked
  });
  if (metrics) keys.verify = observeVerify(keys.verify, metrics); // observability: verification outcomes by reason
  keys.tracker.start();
  const keyRateLimiter = createKeyRateLimiter(db, {
    shared: providerOfDb(db) === "postgresql",
    flushMs: config.keyRateLimitFlushMs,
    onError: (err) => logger.warn({ err }, "rate-limit counters: flush failed (each instance keeps counting; retried at the next flush)"),
  });
  keyRateLimiter.start();
  const audit = createAudit(db);
  const resources = createResources(db, { baseUrl: config.baseUrl, scopes: config.scopes, audit, keys, cacheOf: lookup.cacheOf });
  const stdioProcesses = createStdioPool(config.gateway.stdio, { logger, keys });
  const doctor = createDoctor(db, logger); // issue 26: connection doctor
  const secrets = { cookieSecrets: await cookieSecrets(db, config.cookieSecret), tokenSigningJwks: await tokenSigningJwks(db) };
  return {
    secrets,
    stopping: false,
    config,
    logger,
    db,
    keys,
    keyLookup: lookup,
    users: createUsers(db),
    sessions: createSessions(db, config.sessionTtlMs),
    rateLimiter: createRateLimiter(db),
    keyRateLimiter,
    audit,
    resources,
    stdioProcesses,
    orgs: createOrganizations(db),
    twoFactor: createTwoFactor(db, { encryptionSecret: await totpEncryptionSecret(db, config.totpEncryptionKey), issuer: "Keyward" }),
    pendingLogins: createPendingLogins(db),
    doctor, // issue 26: connection doctor
    announceKeyWrites: lookup.announce,
    metrics,
    mailer,
    async close() {
      await stdioProcesses.close();
      await doctor.events.settled(); // issue 26: connection events still being written
      await keys.tracker.stop();
      await keyRateLimiter.stop();
      await lookup.close();
      await mailer.close(); // Email: mails still on their way are handed over first
      await db.$disconnect();
    },
  };
}
