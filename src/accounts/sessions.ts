// Browser sessions in the database (shared by every instance). The cookie holds a random token;
// the row is keyed by its SHA-256, so a database leak does not hand out sessions.
import { randomBytes } from "node:crypto";
import type { Db } from "../db/client.js";
import { tokenDigest } from "./token-digest.js";
import type { PublicUser } from "./users.js";

export const randomToken = () => randomBytes(32).toString("base64url");

export interface ActiveSession {
  user: PublicUser;
  csrfToken: string;
  /** When the user logged in (the OAuth provider's session is bound to it: src/oauth/session-binding.ts). */
  createdAt: Date;
  /** When the person last confirmed it was them through a linked provider (src/upstream-login/link-routes.ts); null = never. */
  reauthenticatedAt: Date | null;
  expiresAt: Date;
  /** An instance administrator (src/admin/), read with the session on every request. */
  admin: boolean;
}

export interface SessionView {
  createdAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  /** The session of the request asking. */
  current: boolean;
}

export function createSessions(db: Db, ttlMs: number) {
  return {
    async create(
      userId: string,
      meta: { ip?: string; userAgent?: string } = {},
    ): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
      const token = randomToken();
      const csrfToken = randomToken();
      const expiresAt = new Date(Date.now() + ttlMs);
      await db.session.create({
        data: {
          id: tokenDigest(token),
          userId,
          csrfToken,
          expiresAt,
          ip: meta.ip?.slice(0, 100),
          userAgent: meta.userAgent?.slice(0, 500),
        },
      });
      return { token, csrfToken, expiresAt };
    },

    async find(token: string): Promise<ActiveSession | null> {
      if (!token || token.length > 100) return null;
      const row = await db.session.findUnique({ where: { id: tokenDigest(token) }, include: { user: true } });
      if (!row) return null;
      // A disabled account (src/admin/) has no session, even one a disabling on another instance raced with.
      if (row.expiresAt <= new Date() || row.user.disabledAt) {
        await db.session.deleteMany({ where: { id: row.id } });
        return null;
      }
      return {
        user: { id: row.user.id, email: row.user.email },
        csrfToken: row.csrfToken,
        createdAt: row.createdAt,
        reauthenticatedAt: row.reauthenticatedAt,
        expiresAt: row.expiresAt,
        admin: row.user.isAdmin,
      };
    },

    /** Records that this session's person just proved it was them again (a fresh log-in, for REAUTH_WINDOW). */
    async markReauthenticated(token: string, at = new Date()): Promise<void> {
      await db.session.updateMany({ where: { id: tokenDigest(token) }, data: { reauthenticatedAt: at } });
    },

    async destroy(token: string): Promise<void> {
      await db.session.deleteMany({ where: { id: tokenDigest(token) } });
    },

    /** The user's live sessions, newest first (for the security page). */
    async listForUser(userId: string, currentToken?: string): Promise<SessionView[]> {
      const current = currentToken ? tokenDigest(currentToken) : null;
      const rows = await db.session.findMany({
        where: { userId, expiresAt: { gt: new Date() } },
        orderBy: [{ createdAt: "desc" }, { id: "asc" }],
        take: 100,
      });
      return rows.map((r) => ({
        createdAt: r.createdAt.toISOString(),
        expiresAt: r.expiresAt.toISOString(),
        ip: r.ip,
        userAgent: r.userAgent,
        current: r.id === current,
      }));
    },

    /** Ends every session of the user (but the one with `exceptToken`, when given). Returns how many. */
    async destroyAllForUser(userId: string, exceptToken?: string): Promise<number> {
      const except = exceptToken ? { id: { not: tokenDigest(exceptToken) } } : {};
      const { count } = await db.session.deleteMany({ where: { userId, ...except } });
      return count;
    },

    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await db.session.deleteMany({ where: { expiresAt: { lte: now } } });
      return count;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
