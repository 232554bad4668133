// The operator's view of the instance (docs/operators.md): instance administrators, users (search,
// detail, disable/enable, 2FA reset), OAuth clients (list, block/unblock), resources and the
// instance-wide audit trail. Used by the admin pages (routes.ts) and `keyward admin …` (src/cli/commands/admin.ts).
//
// Disabling suspends: the account keeps its keys, but every one fails verification on the very next
// request on every instance (src/keys/verify/check-user-disabled.ts; the write empties every cache:
// the Prisma extension of src/keys/lookup/announce.ts and migration 0024's PostgreSQL trigger), its
// sessions and pending log-ins end, and it cannot log in. Enabling brings the keys back.
import type { Db } from "../db/client.js";
import { eventView, type Audit, type AuditEventView, type ActorType } from "../audit/index.js";
import { announceCommitted } from "../keys/lookup/announce.js";
import { clientFingerprint } from "./client-fingerprint.js";

export class AdminError extends Error {
  constructor(
    readonly code: "not_found" | "last_admin" | "invalid_request",
    message: string,
  ) {
    super(message);
    this.name = "AdminError";
  }
}

/** Who acts: an admin through the pages (their user id, the request's address) or the CLI. */
export interface AdminActing {
  actor: { type: Extract<ActorType, "user" | "cli">; id?: string | null };
  ip?: string | null;
  userAgent?: string | null;
}

export interface AdminUserRow {
  id: string;
  email: string;
  createdAt: string;
  isAdmin: boolean;
  disabledAt: string | null;
  twoFactor: boolean;
}

export interface AdminClientRow {
  clientId: string;
  clientName: string | null;
  redirectUris: string[];
  activeKeys: number;
  blockedAt: string | null;
}

export interface AuditFilter {
  action?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  before?: { createdAt: Date; id: string };
  limit?: number;
}

export const PAGE_SIZE = 50;

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toRow = (u: {
  id: string;
  email: string;
  createdAt: Date;
  isAdmin: boolean;
  disabledAt: Date | null;
  totpEnabledAt: Date | null;
}) => ({
  id: u.id,
  email: u.email,
  createdAt: u.createdAt.toISOString(),
  isAdmin: u.isAdmin,
  disabledAt: iso(u.disabledAt),
  twoFactor: u.totpEnabledAt !== null,
});

export function createOperators(db: Db, audit: Audit) {
  const record = (by: AdminActing, action: string, userId: string | null, targetId: string, details: Record<string, string | null> = {}) =>
    audit.record({ userId, actor: by.actor, action, targetId, ip: by.ip ?? null, userAgent: by.userAgent ?? null, details });

  const userByIdOrEmail = async (who: string) => {
    const u = who.includes("@")
      ? await db.user.findUnique({ where: { email: who.trim().toLowerCase() } })
      : await db.user.findUnique({ where: { id: who } });
    if (!u) throw new AdminError("not_found", `no user ${who}`);
    return u;
  };

  /** Resource servers following the key-event stream (src/keys/events/) hear that these keys changed. */
  const keyEventsFor = async (where: { userId: string } | { clientId: string }) => {
    if ("userId" in where)
      await db.$executeRaw`INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") SELECT "hash", "resource", 'changed' FROM "ApiKey" WHERE "userId" = ${where.userId} AND "revokedAt" IS NULL`;
    else
      await db.$executeRaw`INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") SELECT "hash", "resource", 'changed' FROM "ApiKey" WHERE "clientId" = ${where.clientId} AND "revokedAt" IS NULL`;
  };

  const clientRecord = async (clientId: string) => {
    const row = await db.oidcPayload.findUnique({ where: { model_id: { model: "Client", id: clientId } } });
    if (!row) return null;
    const payload = JSON.parse(row.payload) as { client_name?: unknown; redirect_uris?: unknown };
    return payload;
  };

  return {
    async isAdmin(userId: string): Promise<boolean> {
      const u = await db.user.findUnique({ where: { id: userId }, select: { isAdmin: true, disabledAt: true } });
      return Boolean(u?.isAdmin && !u.disabledAt);
    },

    async grant(who: string, by: AdminActing): Promise<AdminUserRow> {
      const u = await userByIdOrEmail(who);
      const updated = await db.user.update({ where: { id: u.id }, data: { isAdmin: true } });
      if (!u.isAdmin) await record(by, "admin.granted", u.id, u.id, { email: u.email });
      return toRow(updated);
    },

    /** Refuses to remove the last administrator (a fresh sign-up would otherwise become one). */
    async revoke(who: string, by: AdminActing): Promise<AdminUserRow> {
      const u = await userByIdOrEmail(who);
      if (!u.isAdmin) return toRow(u);
      const done = await db.$transaction(async (tx) => {
        const admins = await tx.user.count({ where: { isAdmin: true } });
        if (admins <= 1) return null;
        return tx.user.update({ where: { id: u.id }, data: { isAdmin: false } });
      });
      if (!done) throw new AdminError("last_admin", `${u.email} is the last administrator: grant another account first`);
      await record(by, "admin.revoked", u.id, u.id, { email: u.email });
      return toRow(done);
    },

    /** Users whose email contains `q` (case-insensitive), oldest first, PAGE_SIZE a page. */
    async listUsers(options: { q?: string; page?: number } = {}): Promise<{ users: AdminUserRow[]; more: boolean }> {
      const q = options.q?.trim().toLowerCase() ?? "";
      const page = Math.max(1, options.page ?? 1);
      // Emails are stored lowercased (src/accounts/users.ts), so `contains` on the lowercased query is case-insensitive on both databases.
      const rows = await db.user.findMany({
        where: q ? { email: { contains: q } } : {},
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        skip: (page - 1) * PAGE_SIZE,
        take: PAGE_SIZE + 1,
      });
      return { users: rows.slice(0, PAGE_SIZE).map(toRow), more: rows.length > PAGE_SIZE };
    },

    /** One user with what they hold: keys, organisations, OAuth apps. Null when there is no such user. */
    async userDetail(id: string) {
      const u = await db.user.findUnique({ where: { id } });
      if (!u) return null;
      const [keys, memberships, apps] = await Promise.all([
        db.apiKey.findMany({ where: { userId: id }, orderBy: [{ createdAt: "desc" }, { id: "asc" }], take: 200 }),
        db.membership.findMany({ where: { userId: id }, include: { organization: true }, orderBy: { createdAt: "asc" } }),
        db.apiKey.groupBy({ by: ["clientId"], where: { userId: id, source: "oauth", revokedAt: null }, _count: { _all: true } }),
      ]);
      return {
        user: toRow(u),
        keys: keys.map((k) => ({
          id: k.id,
          label: k.label,
          last4: k.last4,
          source: k.source,
          clientId: k.clientId,
          organizationId: k.organizationId,
          createdAt: k.createdAt.toISOString(),
          lastUsedAt: iso(k.lastUsedAt),
          revokedAt: iso(k.revokedAt),
          expiresAt: iso(k.expiresAt),
        })),
        orgs: memberships.map((m) => ({
          id: m.organizationId,
          name: m.organization.name,
          role: m.role,
          personal: m.organization.personalOwnerId === id,
        })),
        apps: apps.filter((a) => a.clientId !== null).map((a) => ({ clientId: a.clientId!, activeKeys: a._count._all })),
      };
    },

    async disable(who: string, by: AdminActing): Promise<AdminUserRow> {
      const u = await userByIdOrEmail(who);
      if (by.actor.type === "user" && by.actor.id === u.id) throw new AdminError("invalid_request", "you cannot disable your own account");
      if (u.disabledAt) return toRow(u);
      const [updated] = await db.$transaction([
        db.user.update({ where: { id: u.id }, data: { disabledAt: new Date() } }),
        db.session.deleteMany({ where: { userId: u.id } }),
        db.pendingLogin.deleteMany({ where: { userId: u.id } }),
      ]);
      await announceCommitted(db); // PostgreSQL: every instance's cache lets go before we answer
      await keyEventsFor({ userId: u.id });
      await record(by, "user.disabled", u.id, u.id, { email: u.email });
      return toRow(updated);
    },

    async enable(who: string, by: AdminActing): Promise<AdminUserRow> {
      const u = await userByIdOrEmail(who);
      if (!u.disabledAt) return toRow(u);
      const updated = await db.user.update({ where: { id: u.id }, data: { disabledAt: null } });
      await record(by, "user.enabled", u.id, u.id, { email: u.email });
      return toRow(updated);
    },

    /** Turns the user's 2FA off (secret and backup codes forgotten): they log in with their password and enrol again. */
    async resetTwoFactor(who: string, by: AdminActing): Promise<{ user: AdminUserRow; wasOn: boolean }> {
      const u = await userByIdOrEmail(who);
      const [updated] = await db.$transaction([
        db.user.update({ where: { id: u.id }, data: { totpSecret: null, totpPending: null, totpEnabledAt: null, totpLastStep: null } }),
        db.backupCode.deleteMany({ where: { userId: u.id } }),
      ]);
      const wasOn = u.totpEnabledAt !== null;
      if (wasOn) await record(by, "2fa.reset", u.id, u.id, { email: u.email });
      return { user: toRow(updated), wasOn };
    },

    /** Registered OAuth clients (dynamic registration) and blocked ones, newest first. */
    async listClients(options: { page?: number } = {}): Promise<{ clients: AdminClientRow[]; more: boolean }> {
      const page = Math.max(1, options.page ?? 1);
      const rows = await db.oidcPayload.findMany({
        where: { model: "Client" },
        orderBy: [{ createdAt: "desc" }, { id: "asc" }],
        skip: (page - 1) * PAGE_SIZE,
        take: PAGE_SIZE + 1,
      });
      const ids = rows.slice(0, PAGE_SIZE).map((r) => r.id);
      const [blocked, counts] = await Promise.all([
        db.blockedClient.findMany({ where: { clientId: { in: ids } } }),
        db.apiKey.groupBy({ by: ["clientId"], where: { clientId: { in: ids }, revokedAt: null }, _count: { _all: true } }),
      ]);
      const clients = rows.slice(0, PAGE_SIZE).map((r) => {
        const p = JSON.parse(r.payload) as { client_name?: unknown; redirect_uris?: unknown };
        return {
          clientId: r.id,
          clientName: typeof p.client_name === "string" ? p.client_name : null,
          redirectUris: Array.isArray(p.redirect_uris) ? p.redirect_uris.filter((u): u is string => typeof u === "string") : [],
          activeKeys: counts.find((c) => c.clientId === r.id)?._count._all ?? 0,
          blockedAt: iso(blocked.find((b) => b.clientId === r.id)?.blockedAt ?? null),
        };
      });
      return { clients, more: rows.length > PAGE_SIZE };
    },

    /** Blocks a registered client, or any client id keys were issued to (a metadata-document client). */
    async blockClient(clientId: string, by: AdminActing, reason?: string): Promise<{ clientId: string; blockedAt: string }> {
      const metadata = await clientRecord(clientId);
      if (!metadata && (await db.apiKey.count({ where: { clientId } })) === 0)
        throw new AdminError("not_found", `no OAuth client ${clientId}`);
      const existing = await db.blockedClient.findUnique({ where: { clientId } });
      if (existing) return { clientId, blockedAt: existing.blockedAt.toISOString() };
      const row = await db.blockedClient.create({
        data: {
          clientId,
          clientName: typeof metadata?.client_name === "string" ? metadata.client_name.slice(0, 500) : null,
          metadataDigest: metadata ? clientFingerprint(metadata) : null,
          blockedBy: by.actor.type === "user" ? (by.actor.id ?? null) : null,
          reason: reason?.slice(0, 500) ?? null,
        },
      });
      await keyEventsFor({ clientId });
      await record(by, "oauth_client.blocked", null, clientId, { clientName: row.clientName, reason: row.reason });
      return { clientId, blockedAt: row.blockedAt.toISOString() };
    },

    async unblockClient(clientId: string, by: AdminActing): Promise<boolean> {
      const { count } = await db.blockedClient.deleteMany({ where: { clientId } });
      if (count === 0) return false;
      await record(by, "oauth_client.unblocked", null, clientId);
      return true;
    },

    /** The instance-wide audit trail, newest first, filtered; `before` walks to older events. */
    async audit(filter: AuditFilter = {}): Promise<{ events: (AuditEventView & { userId: string | null })[]; more: boolean }> {
      const limit = Math.min(filter.limit ?? PAGE_SIZE, 500);
      const { before } = filter;
      const rows = await db.auditEvent.findMany({
        where: {
          AND: [
            filter.action ? { action: filter.action } : {},
            filter.userId ? { userId: filter.userId } : {},
            filter.from ? { createdAt: { gte: filter.from } } : {},
            filter.to ? { createdAt: { lt: filter.to } } : {},
            before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {},
          ],
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: limit + 1,
      });
      // userId second, as before: `keyward admin audit --json` prints the keys in this order.
      const events = rows.slice(0, limit).map((r) => {
        const { id, ...rest } = eventView(r);
        return { id, userId: r.userId, ...rest };
      });
      return { events, more: rows.length > limit };
    },
  };
}

export type Operators = ReturnType<typeof createOperators>;
