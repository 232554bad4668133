// Notices to a key's owner and to an account (issue 28 item 6, issue 29 item 2): keys revoked by
// someone else, keys about to expire, a log-in from a browser the account had not seen, a sign-in
// method linked or unlinked. Each is sent in the background (src/mail/mailer.ts): the revocation or
// log-in that triggered it never waits.
import type { Db } from "../db/client.js";
import type { KeyActing, KeyEventVia } from "../audit/key-events.js";
import type { RevokedKey } from "../keys/revoke.js";
import type { Mailer } from "./mailer.js";
import { keysExpiringMessage, keysRevokedMessage, newDeviceMessage, signInMethodMessage } from "./messages.js";
import { describeUserAgent } from "../audit/describe.js";
import { claimExpiryNotice, expiringUnnoticed } from "../keys/expiry-notices.js";

/** Warn this long before a key expires. */
export const EXPIRY_NOTICE_MS = 7 * 86_400_000;

/**
 * Routes through which someone other than the key's owner revokes it, in the owner's words. The
 * owner's own routes (page, JSON API, their CLI log-in, disconnecting an app) and the app's own
 * (RFC 7009, a revoked grant, a deleted registration: the app the owner connected, acting on its own
 * keys) send nothing.
 */
const BY_OTHERS: Partial<Record<KeyEventVia, string>> = {
  cli: "by the server's operator (keyward command)",
  org_member_keys: "by an administrator of your organisation",
  org_app_keys: "by an administrator of your organisation (an app key you minted)",
  secret_scanning: "automatically, because secret scanning reported it as leaked in public",
  resource_removed: "because the MCP server it was for was removed",
};

/** The owner's mails for keys someone else revoked: one per owner, every key of the call listed. */
export function revokedByOthersNotifier(mailer: Mailer, baseUrl: string) {
  return (revoked: RevokedKey[], by: KeyActing): void => {
    const byWhom = BY_OTHERS[by.via];
    if (!mailer.enabled || !byWhom) return;
    const owners = new Map<string, { email: string; keys: { label: string; last4: string }[] }>();
    for (const r of revoked) {
      const self = (by.actor.type === "user" || by.actor.type === "org_admin") && by.actor.id === r.owner.id;
      if (self) continue;
      const entry = owners.get(r.owner.id) ?? { email: r.owner.email, keys: [] };
      entry.keys.push({ label: r.key.label, last4: r.key.last4 });
      owners.set(r.owner.id, entry);
    }
    for (const { email, keys } of owners.values()) {
      mailer.send(keysRevokedMessage(email, keys, byWhom, `${baseUrl}/app/account/audit?action=key.revoked`));
    }
  };
}

/**
 * Housekeeping: mails each owner once about their keys that expire within 7 days (portal, app and
 * OAuth keys alike). Each key is claimed once (src/keys/expiry-notices.ts), so of several instances
 * sweeping at once exactly one mails it. Left out: revoked keys, rolled keys (their
 * end was chosen with the roll), and keys whose whole life is 7 days or less (their owner chose it a
 * moment ago). Returns how many keys were noticed.
 */
export async function sendExpiryNotices(db: Db, mailer: Mailer, baseUrl: string, now = new Date()): Promise<number> {
  if (!mailer.enabled) return 0;
  const keys = await expiringUnnoticed(db, now, new Date(now.getTime() + EXPIRY_NOTICE_MS));
  const owners = new Map<string, { email: string; keys: { label: string; last4: string; expiresAt: Date }[] }>();
  let noticed = 0;
  for (const key of keys) {
    if (key.expiresAt.getTime() - key.createdAt.getTime() <= EXPIRY_NOTICE_MS) continue;
    if (!(await claimExpiryNotice(db, key.id, now))) continue; // another instance took it
    noticed++;
    const entry = owners.get(key.userId) ?? { email: key.email, keys: [] };
    entry.keys.push({ label: key.label, last4: key.last4, expiresAt: key.expiresAt });
    owners.set(key.userId, entry);
  }
  for (const { email, keys: listed } of owners.values()) mailer.send(keysExpiringMessage(email, listed, `${baseUrl}/app/account/api-keys`));
  return noticed;
}

/**
 * After a complete log-in from a browser without this account's device cookie: mails the account,
 * unless this is its first log-in ever (signing up is not news; the audit trail's `login.succeeded`
 * events say, this one included).
 */
export function newDeviceNotice(
  mailer: Mailer,
  db: Db,
  baseUrl: string,
  login: { userId: string; ip: string | null; userAgent: string | null; at: Date },
): void {
  if (!mailer.enabled) return;
  mailer.background("new-device notice", async () => {
    const logins = await db.auditEvent.count({ where: { userId: login.userId, action: "login.succeeded" } });
    const user = await db.user.findUnique({ where: { id: login.userId }, select: { email: true } });
    if (logins <= 1 || !user) return;
    mailer.send(
      newDeviceMessage(
        user.email,
        { at: login.at, ip: login.ip, browser: describeUserAgent(login.userAgent) || "unknown" },
        `${baseUrl}/app/account/security`,
      ),
    );
  });
}

/** After a sign-in method was linked or unlinked (src/upstream-login/link-routes.ts): mails the account. */
export function signInMethodNotice(
  mailer: Mailer,
  db: Db,
  pageUrl: string,
  change: { userId: string; change: "linked" | "unlinked"; providerName: string; ip: string | null; userAgent: string | null; at: Date },
): void {
  if (!mailer.enabled) return;
  mailer.background("sign-in method notice", async () => {
    const user = await db.user.findUnique({ where: { id: change.userId }, select: { email: true } });
    if (!user) return;
    const facts = {
      providerName: change.providerName,
      at: change.at,
      ip: change.ip,
      browser: describeUserAgent(change.userAgent) || "unknown",
    };
    mailer.send(signInMethodMessage(user.email, change.change, facts, pageUrl));
  });
}
