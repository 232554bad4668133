// Who an upstream log-in is in Keyward. The rules (docs/upstream-login.md#linking):
//   - the provider's allowed domains, when it has any, are checked at every log-in, against a verified email;
//   - an identity already linked (provider id + `sub`) is that user;
//   - otherwise the upstream must give an email it says is verified (email_verified = true): an
//     existing account with that email is linked (one identity per provider and account) when Keyward
//     knows that account's owner holds the address too — they confirmed it by a mailed link, or the
//     account has no password (a provider made it from a verified email). Otherwise anyone could sign up
//     with a colleague's address first and own the account the colleague is then linked to. Or a new
//     account is made (a password that never verifies, its personal organisation, and the provider's
//     organisation and role). An unverified email never links nor makes anything.
import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";
import { claimFirstAdmin, emailSchema, NO_LOCAL_PASSWORD } from "../accounts/users.js";
import { newOrganizationId, PERSONAL_ORG_NAME } from "../orgs/ids.js";
import type { UpstreamProvider } from "./config.js";

export interface UpstreamClaims {
  subject: string;
  email: string | null;
  emailVerified: boolean;
}

export type Refusal =
  "no_email" | "unverified_email" | "domain_not_allowed" | "already_linked" | "unconfirmed_account" | "no_account" | "organization_missing";

export type Resolution =
  | { ok: true; userId: string; email: string; created: boolean; linked: boolean }
  | { ok: false; reason: Refusal; /** the account it concerned, for its audit trail */ userId?: string };

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

export function upstreamAccounts(db: Db) {
  const resolveOnce = async (provider: UpstreamProvider, claims: UpstreamClaims): Promise<Resolution> => {
    const parsed = claims.email === null ? null : emailSchema.safeParse(claims.email);
    const email = parsed?.success ? parsed.data : null;
    const identity = await db.upstreamIdentity.findUnique({
      where: { providerId_subject: { providerId: provider.id, subject: claims.subject } },
      include: { user: { select: { id: true, email: true } } },
    });
    if (provider.allowedDomains.length) {
      const refusal = !email ? "no_email" : !claims.emailVerified ? "unverified_email" : null;
      if (refusal) return { ok: false, reason: refusal, userId: identity?.userId };
      if (!provider.allowedDomains.includes(email!.slice(email!.lastIndexOf("@") + 1)))
        return { ok: false, reason: "domain_not_allowed", userId: identity?.userId };
    }
    if (identity) {
      await db.upstreamIdentity.update({
        where: { providerId_subject: { providerId: provider.id, subject: claims.subject } },
        data: { lastLoginAt: new Date() },
      });
      return { ok: true, userId: identity.user.id, email: identity.user.email, created: false, linked: false };
    }
    if (!email) return { ok: false, reason: "no_email" };
    if (!claims.emailVerified) return { ok: false, reason: "unverified_email" };
    const existing = await db.user.findUnique({ where: { email }, select: { id: true, emailVerifiedAt: true, passwordHash: true } });
    if (existing) {
      if (existing.emailVerifiedAt === null && existing.passwordHash !== NO_LOCAL_PASSWORD)
        return { ok: false, reason: "unconfirmed_account", userId: existing.id };
      const other = await db.upstreamIdentity.findUnique({
        where: { providerId_userId: { providerId: provider.id, userId: existing.id } },
      });
      if (other) return { ok: false, reason: "already_linked", userId: existing.id };
      await db.upstreamIdentity.create({ data: { providerId: provider.id, subject: claims.subject, userId: existing.id, email } });
      return { ok: true, userId: existing.id, email, created: false, linked: true };
    }
    if (!provider.createAccounts) return { ok: false, reason: "no_account" };
    if (provider.organization && !(await db.organization.findUnique({ where: { id: provider.organization }, select: { id: true } })))
      return { ok: false, reason: "organization_missing" };
    const id = `usr_${randomUUID().replace(/-/g, "")}`;
    const personal = {
      role: "owner",
      organization: { create: { id: newOrganizationId(), name: PERSONAL_ORG_NAME, personalOwnerId: id } },
    };
    const joined = provider.organization ? [{ role: provider.role, organization: { connect: { id: provider.organization } } }] : [];
    // One write: the account, its organisations and its identity exist together or not at all.
    await db.user.create({
      data: {
        id,
        email,
        passwordHash: NO_LOCAL_PASSWORD,
        memberships: { create: [personal, ...joined] },
        upstreamIdentities: { create: { providerId: provider.id, subject: claims.subject, email } },
      },
    });
    await claimFirstAdmin(db, id);
    return { ok: true, userId: id, email, created: true, linked: false };
  };

  return {
    /** Finds, links or makes the account; a concurrent first log-in of the same person is answered like the second one. */
    async resolve(provider: UpstreamProvider, claims: UpstreamClaims): Promise<Resolution> {
      try {
        return await resolveOnce(provider, claims);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        return resolveOnce(provider, claims);
      }
    },
  };
}

export type UpstreamAccounts = ReturnType<typeof upstreamAccounts>;
