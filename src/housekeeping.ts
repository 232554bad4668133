// What the database would otherwise keep forever, cleared on start and then every hour (or every
// CLIENT_PURGE_HOURS when shorter): DCR clients that never got a key, expired OAuth records,
// expired sessions, abandoned second-factor log-ins, expired organisation invitations and device cookies, and key usage
// counts older than the 30 days shown (src/keys/usage/). Expired rows already grant
// nothing (every
// read checks the expiry); this only keeps the tables small.
import type { Services } from "./services.js";
import { purgeOAuthRecords } from "./oauth/purge.js";
import { createInvitations } from "./orgs/invitations.js";
import { createDeviceCookies } from "./accounts/device-cookies.js";
import { createKeyEvents } from "./keys/events/index.js";
import { EVENT_TTL_MS } from "./doctor/events.js";
// Email (src/mail/): expired single-use links, and the owners' mails 7 days before a key expires.
import { createEmailTokens } from "./mail/email-tokens.js";
import { sendExpiryNotices } from "./mail/notices.js";

/** How long key events are kept for resource servers' event streams; a reader further behind is told to reset. */
export const KEY_EVENT_RETENTION_MS = 7 * 86_400_000;

export interface Swept {
  clients: number;
  expired: number;
  sessions: number;
  pendingLogins: number;
  invitations: number;
  deviceCookies: number;
  keyEvents: number;
  usageRows: number;
  /** Connection doctor events past their 14 days (issue 26). */
  connectionEvents: number;
  /** Email: expired reset / verification links removed. */
  emailTokens: number;
  /** Email: keys whose owner was just mailed that they expire within 7 days. */
  expiryNotices: number;
}

export async function sweep(services: Services, now = new Date()): Promise<Swept> {
  const oauth = await purgeOAuthRecords(services.db, services.keys, services.config.clientPurgeMs, now);
  const sessions = await services.sessions.purgeExpired(now);
  const pendingLogins = await services.pendingLogins.purgeExpired(now);
  const invitations = await createInvitations(services.db).purgeExpired(now);
  const deviceCookies = await createDeviceCookies(services.db).purgeExpired(now);
  const keyEvents = await createKeyEvents(services.db).prune(new Date(now.getTime() - KEY_EVENT_RETENTION_MS));
  const usageRows = await services.keys.usage.prune(now);
  const connectionEvents = await services.doctor.events.prune(new Date(now.getTime() - EVENT_TTL_MS)); // issue 26
  const emailTokens = await createEmailTokens(services.db).purgeExpired(now);
  const expiryNotices = await sendExpiryNotices(services.db, services.mailer, services.config.baseUrl, now);
  return {
    ...oauth,
    sessions,
    pendingLogins,
    invitations,
    deviceCookies,
    keyEvents,
    usageRows,
    connectionEvents,
    emailTokens,
    expiryNotices,
  };
}

/** Sweeps now and then periodically; stop() ends it. Failures are logged and retried next time. */
export function startHousekeeping(services: Services): { stop(): void } {
  const { logger, config } = services;
  const run = () =>
    sweep(services).then(
      (r) => Object.values(r).some((n) => n > 0) && logger.info(r, "housekeeping: removed unused OAuth clients and expired records"),
      (err: unknown) => logger.error({ err }, "housekeeping failed"),
    );
  void run();
  const timer = setInterval(() => void run(), Math.min(config.clientPurgeMs, 3600_000));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
