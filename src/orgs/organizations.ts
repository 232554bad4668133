// Organisations, memberships and apps. Every lookup that takes an id from a request is scoped to
// the caller's memberships, so another organisation's id and a missing id both come back null.
import type { Db } from "../db/client.js";
import { newAppId, newOrganizationId, PERSONAL_ORG_NAME } from "./ids.js";
import { asRole, canAssign, type Role } from "./roles.js";

export interface OrganizationView {
  id: string;
  name: string;
  personal: boolean;
  role: Role;
  /** The longest lifetime its keys may be minted with, in days (src/keys/expiry.ts); null: no cap. */
  maxKeyLifetimeDays: number | null;
}

export interface MemberView {
  userId: string;
  email: string;
  role: Role;
  createdAt: string;
}

export interface AppView {
  id: string;
  organizationId: string;
  name: string;
  createdAt: string;
}

export class OrgInputError extends Error {}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

export function createOrganizations(db: Db) {
  const membership = async (organizationId: string, userId: string) =>
    db.membership.findUnique({ where: { organizationId_userId: { organizationId, userId } }, include: { organization: true } });

  const ownerCount = (organizationId: string) => db.membership.count({ where: { organizationId, role: "owner" } });

  return {
    /** The user's personal organisation, made if missing (users created before 0005, or directly in the database). */
    async ensurePersonal(userId: string): Promise<string> {
      const found = await db.organization.findUnique({ where: { personalOwnerId: userId } });
      if (found) return found.id;
      try {
        const org = await db.organization.create({
          data: {
            id: newOrganizationId(),
            name: PERSONAL_ORG_NAME,
            personalOwnerId: userId,
            memberships: { create: { userId, role: "owner" } },
          },
        });
        return org.id;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        return (await db.organization.findUniqueOrThrow({ where: { personalOwnerId: userId } })).id;
      }
    },

    /** The organisations the user belongs to, personal first. */
    async listForUser(userId: string): Promise<OrganizationView[]> {
      const rows = await db.membership.findMany({ where: { userId }, include: { organization: true }, orderBy: { createdAt: "asc" } });
      return rows
        .map((m) => ({
          id: m.organizationId,
          name: m.organization.name,
          personal: m.organization.personalOwnerId === userId,
          role: asRole(m.role) ?? "viewer",
          maxKeyLifetimeDays: m.organization.maxKeyLifetimeDays,
        }))
        .sort((a, b) => Number(b.personal) - Number(a.personal));
    },

    /** The user's view of one organisation; null when they are not a member (or it does not exist). */
    async get(userId: string, organizationId: string): Promise<OrganizationView | null> {
      const m = await membership(organizationId, userId);
      const role = m ? asRole(m.role) : null;
      return m && role
        ? {
            id: m.organizationId,
            name: m.organization.name,
            personal: m.organization.personalOwnerId === userId,
            role,
            maxKeyLifetimeDays: m.organization.maxKeyLifetimeDays,
          }
        : null;
    },

    async roleOf(userId: string, organizationId: string): Promise<Role | null> {
      const m = await db.membership.findUnique({ where: { organizationId_userId: { organizationId, userId } } });
      return m ? asRole(m.role) : null;
    },

    async create(ownerId: string, name: string): Promise<OrganizationView> {
      const org = await db.organization.create({
        data: { id: newOrganizationId(), name, memberships: { create: { userId: ownerId, role: "owner" } } },
      });
      return { id: org.id, name: org.name, personal: false, role: "owner", maxKeyLifetimeDays: null };
    },

    /**
     * Caps the lifetime of the keys minted in the organisation from now on (null lifts the cap). Keys
     * minted before keep their expiry. Whoever calls has checked the caller's role (owners and admins).
     */
    async setKeyPolicy(organizationId: string, maxKeyLifetimeDays: number | null): Promise<void> {
      await db.organization.update({ where: { id: organizationId }, data: { maxKeyLifetimeDays } });
    },

    async members(organizationId: string): Promise<MemberView[]> {
      const rows = await db.membership.findMany({
        where: { organizationId },
        include: { user: true },
        orderBy: [{ createdAt: "asc" }, { userId: "asc" }],
      });
      return rows.map((m) => ({
        userId: m.userId,
        email: m.user.email,
        role: asRole(m.role) ?? "viewer",
        createdAt: m.createdAt.toISOString(),
      }));
    },

    /**
     * Adds an existing user by email, at once: only the operator's CLI (`keyward orgs add-member`).
     * On the web and the JSON API people are invited and accept (src/orgs/invitations.ts): this
     * answer tells whether an account exists, which only the operator may learn.
     */
    async addMember(organizationId: string, actorRole: Role, email: string, role: Role): Promise<MemberView> {
      if (!canAssign(actorRole, role)) throw new OrgInputError("Only an owner can add an owner.");
      const org = await db.organization.findUniqueOrThrow({ where: { id: organizationId } });
      if (org.personalOwnerId)
        throw new OrgInputError("A personal organisation has no other members. Create an organisation to share access.");
      const user = await db.user.findUnique({ where: { email: email.trim().toLowerCase() } });
      if (!user) throw new OrgInputError("No account with that email address. Ask them to sign up first.");
      try {
        const m = await db.membership.create({ data: { organizationId, userId: user.id, role } });
        return { userId: user.id, email: user.email, role, createdAt: m.createdAt.toISOString() };
      } catch (err) {
        if (isUniqueViolation(err)) throw new OrgInputError("That user is already a member.");
        throw err;
      }
    },

    /** Null when the user is not a member of this organisation. */
    async changeRole(organizationId: string, actorRole: Role, userId: string, role: Role): Promise<MemberView | null> {
      const current = await membership(organizationId, userId);
      const currentRole = current ? asRole(current.role) : null;
      if (!current || !currentRole) return null;
      if (!canAssign(actorRole, currentRole) || !canAssign(actorRole, role))
        throw new OrgInputError("Only an owner can change an owner's role or make someone an owner.");
      if (current.organization.personalOwnerId) throw new OrgInputError("The owner of a personal organisation cannot be changed.");
      if (currentRole === "owner" && role !== "owner" && (await ownerCount(organizationId)) <= 1)
        throw new OrgInputError("An organisation needs at least one owner.");
      const m = await db.membership.update({
        where: { organizationId_userId: { organizationId, userId } },
        data: { role },
        include: { user: true },
      });
      return { userId, email: m.user.email, role, createdAt: m.createdAt.toISOString() };
    },

    /** Null when the user is not a member. Their keys bound to this organisation stop working at once. */
    async removeMember(organizationId: string, actorRole: Role, userId: string): Promise<MemberView | null> {
      const current = await membership(organizationId, userId);
      const currentRole = current ? asRole(current.role) : null;
      if (!current || !currentRole) return null;
      if (!canAssign(actorRole, currentRole)) throw new OrgInputError("Only an owner can remove an owner.");
      if (current.organization.personalOwnerId) throw new OrgInputError("The owner of a personal organisation cannot be removed.");
      if (currentRole === "owner" && (await ownerCount(organizationId)) <= 1)
        throw new OrgInputError("An organisation needs at least one owner.");
      const m = await db.membership.delete({ where: { organizationId_userId: { organizationId, userId } }, include: { user: true } });
      return { userId, email: m.user.email, role: currentRole, createdAt: m.createdAt.toISOString() };
    },

    async createApp(organizationId: string, name: string): Promise<AppView> {
      const app = await db.app.create({ data: { id: newAppId(), organizationId, name } });
      return { id: app.id, organizationId, name: app.name, createdAt: app.createdAt.toISOString() };
    },

    async apps(organizationId: string): Promise<AppView[]> {
      const rows = await db.app.findMany({ where: { organizationId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      return rows.map((a) => ({ id: a.id, organizationId, name: a.name, createdAt: a.createdAt.toISOString() }));
    },

    /** Null unless the app belongs to this organisation. */
    async getApp(organizationId: string, appId: string): Promise<AppView | null> {
      const a = await db.app.findFirst({ where: { id: appId, organizationId } });
      return a ? { id: a.id, organizationId, name: a.name, createdAt: a.createdAt.toISOString() } : null;
    },
  };
}

export type Organizations = ReturnType<typeof createOrganizations>;
