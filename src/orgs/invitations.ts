// Invitations to join an organisation. An admin invites an email; whether an account has that email
// is never told (the same answer, and the same work: one indexed lookup, for any address). The
// invitation is bound to the account that has the email when it is sent: only that account sees it
// (on /app/orgs and at GET /api/invitations) and may accept (the membership is made, with the invited
// role) or decline. Keyward does not verify email addresses yet, so an invitation to an address with
// no account binds to nobody and can never be accepted: whoever signs up with that address later does
// not inherit it (the admin invites again once the person has an account). Invitations expire;
// admins can revoke pending ones.
import { randomBase62 } from "../keys/format.js";
import type { Db } from "../db/client.js";
import { asRole, canAssign, type Role } from "./roles.js";
import { OrgInputError, type MemberView } from "./organizations.js";

export const INVITATION_TTL_MS = 7 * 24 * 3600_000;
/** Invitations one organisation may send per hour, and one person across organisations (src/orgs/actions.ts). */
export const INVITATIONS_PER_HOUR = 20;
export const INVITATIONS_PER_ACTOR_PER_HOUR = 50;

export interface InvitationView {
  id: string;
  organizationId: string;
  organizationName: string;
  email: string;
  role: Role;
  status: "pending";
  createdAt: string;
  expiresAt: string;
}

type Row = {
  id: string;
  organizationId: string;
  email: string;
  role: string;
  createdAt: Date;
  expiresAt: Date;
  organization: { name: string };
};

const toView = (r: Row): InvitationView => ({
  id: r.id,
  organizationId: r.organizationId,
  organizationName: r.organization.name,
  email: r.email,
  role: asRole(r.role) ?? "viewer",
  status: "pending",
  createdAt: r.createdAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
});

export const newInvitationId = () => `inv_${randomBase62(20)}`;

export function createInvitations(db: Db, options: { ttlMs?: number } = {}) {
  const ttl = options.ttlMs ?? INVITATION_TTL_MS;
  const live = () => ({ expiresAt: { gt: new Date() } });
  const include = { organization: { select: { name: true } } } as const;

  return {
    /**
     * Invites `email` (already normalised) as `role`, bound to the account that has the email now (or
     * to none). Inviting the same email again renews the invitation (new role, new expiry, the account
     * that has the email now, same id). What comes back never says which.
     */
    async invite(organizationId: string, actor: { id: string; role: Role }, email: string, role: Role): Promise<InvitationView> {
      if (!canAssign(actor.role, role)) throw new OrgInputError("Only an owner can invite an owner.");
      const org = await db.organization.findUniqueOrThrow({ where: { id: organizationId } });
      if (org.personalOwnerId)
        throw new OrgInputError("A personal organisation has no other members. Create an organisation to share access.");
      const userId = (await db.user.findUnique({ where: { email }, select: { id: true } }))?.id ?? null;
      const expiresAt = new Date(Date.now() + ttl);
      const row = await db.invitation.upsert({
        where: { organizationId_email: { organizationId, email } },
        create: { id: newInvitationId(), organizationId, email, userId, role, invitedById: actor.id, expiresAt },
        update: { role, userId, invitedById: actor.id, expiresAt, createdAt: new Date() },
        include,
      });
      return toView(row);
    },

    /** The organisation's pending invitations, newest first. */
    async pendingForOrganization(organizationId: string): Promise<InvitationView[]> {
      const rows = await db.invitation.findMany({
        where: { organizationId, ...live() },
        include,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: 500,
      });
      return rows.map(toView);
    },

    /** Invitations addressed to this account, pending, newest first. */
    async pendingForUser(userId: string): Promise<InvitationView[]> {
      const rows = await db.invitation.findMany({
        where: { userId, ...live() },
        include,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: 500,
      });
      return rows.map(toView);
    },

    /** Deletes a pending invitation of this organisation; null when it has none with that id. */
    async revoke(organizationId: string, id: string): Promise<InvitationView | null> {
      const row = await db.invitation.findFirst({ where: { id, organizationId }, include });
      if (!row) return null;
      const { count } = await db.invitation.deleteMany({ where: { id, organizationId } });
      return count === 1 ? toView(row) : null;
    },

    /**
     * The invitee accepts: one transaction makes the membership (unless they already are a member)
     * and deletes the invitation. Null for an id not addressed to this account, missing or expired.
     */
    async accept(user: { id: string; email: string }, id: string): Promise<{ invitation: InvitationView; member: MemberView } | null> {
      return db.$transaction(async (tx) => {
        const row = await tx.invitation.findFirst({ where: { id, userId: user.id, ...live() }, include });
        if (!row) return null;
        const { count } = await tx.invitation.deleteMany({ where: { id } });
        if (count !== 1) return null;
        const invitation = toView(row);
        const existing = await tx.membership.findUnique({
          where: { organizationId_userId: { organizationId: row.organizationId, userId: user.id } },
        });
        const m =
          existing ??
          (await tx.membership.create({ data: { organizationId: row.organizationId, userId: user.id, role: invitation.role } }));
        return {
          invitation,
          member: { userId: user.id, email: user.email, role: asRole(m.role) ?? "viewer", createdAt: m.createdAt.toISOString() },
        };
      });
    },

    /** Invitations past their expiry (housekeeping; an expired one is already refused on every read). */
    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await db.invitation.deleteMany({ where: { expiresAt: { lte: now } } });
      return count;
    },

    /** The invitee declines: the invitation is deleted. Null as for accept. */
    async decline(user: { id: string }, id: string): Promise<InvitationView | null> {
      const row = await db.invitation.findFirst({ where: { id, userId: user.id, ...live() }, include });
      if (!row) return null;
      const { count } = await db.invitation.deleteMany({ where: { id } });
      return count === 1 ? toView(row) : null;
    },
  };
}

export type Invitations = ReturnType<typeof createInvitations>;
