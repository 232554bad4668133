// What an organisation's owners and admins do, shared by the org pages and the JSON API: every
// change is audit-logged, every id from the request is scoped to the organisation (a foreign id
// is "not found", exactly like a missing one).
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx } from "../http/state.js";
import { decideMintLimits, rollLimitsRefusal } from "../keys/limits/policy.js";
import { HttpError } from "../http/errors.js";
import { requestMeta } from "../http/request-meta.js";
import { refusalError } from "../http/insufficient-scope.js";
import { appNotFound, keyNotFound, memberNotFound, orgForUser } from "./access.js";
import { OrgInputError } from "./organizations.js";
import { roleSchema } from "./roles.js";
import {
  KeyInputError,
  labelSchema,
  scopesSchema,
  type KeyActing,
  type KeyEventVia,
  type MemberKeyView,
  type Minted,
  RollRefusedError,
  ROLL_OVERLAP_NAMES,
  type RollOverlap,
} from "../keys/index.js";
import { decideMint, type Caller } from "../keys/mint-policy.js";
import { maxLifetimeDaysSchema, parseExpiry } from "../keys/expiry.js";
import { isManagementScope } from "../scopes/management.js";
import { emailSchema, type PublicUser } from "../accounts/users.js";
import type { AuditInput } from "../audit/index.js";
import { createInvitations, INVITATIONS_PER_ACTOR_PER_HOUR, INVITATIONS_PER_HOUR } from "./invitations.js";

export const orgNameSchema = z
  .string()
  .trim()
  .min(1, "Name the organisation")
  .max(100, "At most 100 characters")
  .regex(/^[^\p{Cc}\p{Cf}]*$/u, "No control characters");
export const appNameSchema = orgNameSchema;
export const memberInput = z.object({ email: emailSchema, role: roleSchema });
export const invitationNotFound = () => new HttpError(404, "not_found", "No invitation with that id.");
const ORG_INVITE_LIMIT = { max: INVITATIONS_PER_HOUR, windowMs: 3600_000 };
const ACTOR_INVITE_LIMIT = { max: INVITATIONS_PER_ACTOR_PER_HOUR, windowMs: 3600_000 };
export const roleInput = z.object({ role: roleSchema });
export const appKeyInput = z.object({
  label: labelSchema.optional(),
  scopes: scopesSchema.optional(),
  expires: z.string().max(100).optional(),
});
export const keyPolicyInput = z.object({ max_key_lifetime_days: maxLifetimeDaysSchema }).strict();

/** An organisation admin acting on a member's or an app's key. */
const adminActing = (ctx: Ctx, actor: PublicUser, via: KeyEventVia): KeyActing => ({
  actor: { type: "org_admin", id: actor.id },
  via,
  ...requestMeta(ctx),
});
type AuditDetails = AuditInput["details"];
/** Who else an org event names: the actor acting as a plain user, or the account it concerns when that is not the actor's. */
interface EventParties {
  as?: "user" | "org_admin";
  about?: string;
}
export const rollInput = z.object({ overlap: z.enum(ROLL_OVERLAP_NAMES as [RollOverlap, ...RollOverlap[]]) }).strict();
/** A refused roll: its own status (409 revoked/expired/rolled, 400 OAuth) with its message; bad input 400. */
export const rollError = (err: unknown) =>
  err instanceof RollRefusedError
    ? new HttpError(err.status, err.status === 409 ? "conflict" : "invalid_request", err.message)
    : badInput(err);
const badInput = (err: unknown) => {
  if (err instanceof OrgInputError || err instanceof KeyInputError) return new HttpError(400, "invalid_request", err.message);
  return err;
};

export function orgActions(services: Services) {
  const { orgs, keys, audit, rateLimiter } = services;
  const invitations = createInvitations(services.db);
  /** One audit event of an org action: by `actor` as an org admin (or `as` a plain user), about the actor (or `about` someone else). */
  const record = (ctx: Ctx, actor: PublicUser, action: string, targetId: string, details?: AuditDetails, who: EventParties = {}) =>
    audit.record({
      userId: who.about ?? actor.id,
      actor: { type: who.as ?? "org_admin", id: actor.id },
      action,
      targetId,
      ...requestMeta(ctx),
      details,
    });
  return {
    async create(ctx: Ctx, actor: PublicUser, name: unknown) {
      const org = await orgs.create(actor.id, orgNameSchema.parse(name));
      await record(ctx, actor, "org.created", org.id, { name: org.name }, { as: "user" });
      return org;
    },

    /**
     * Invites an email to the organisation. One answer (202, the invitation) whatever the email, and
     * the same work (one indexed lookup binds it to the account that has the email, if any:
     * src/orgs/invitations.ts). Limited per organisation and per inviting admin, each attempt taken in
     * one atomic step before anything is written, so parallel requests cannot pass the limit.
     */
    async invite(ctx: Ctx, actor: PublicUser, organizationId: string, input: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const { email, role } = memberInput.parse(input);
      const counters = [
        [`invite:org:${org.id}`, ORG_INVITE_LIMIT],
        [`invite:actor:${actor.id}`, ACTOR_INVITE_LIMIT],
      ] as const;
      for (const [counter, limit] of counters) {
        const taken = await rateLimiter.consume(counter, limit);
        if (!taken.ok)
          throw new HttpError(429, "too_many_requests", "Too many invitations: try again later.", {
            "Retry-After": String(Math.ceil(taken.retryAfterMs / 1000)),
          });
      }
      const invitation = await invitations
        .invite(org.id, { id: actor.id, role: org.role }, email, role)
        .catch((e: unknown) => Promise.reject(badInput(e)));
      await record(ctx, actor, "org.member_invited", org.id, { invitationId: invitation.id, email, role });
      return invitation;
    },

    async invitations(actor: PublicUser, organizationId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      return invitations.pendingForOrganization(org.id);
    },

    async revokeInvitation(ctx: Ctx, actor: PublicUser, organizationId: string, invitationId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const invitation = await invitations.revoke(org.id, invitationId);
      if (!invitation) throw invitationNotFound();
      await record(ctx, actor, "org.invitation_revoked", org.id, { invitationId: invitation.id, email: invitation.email });
      return invitation;
    },

    /** The signed-in user's pending invitations (bound to their account when sent). */
    async myInvitations(actor: PublicUser) {
      return invitations.pendingForUser(actor.id);
    },

    /** Someone else's invitation, an expired one and a missing one: the same 404. */
    async acceptInvitation(ctx: Ctx, actor: PublicUser, invitationId: string) {
      const done = await invitations.accept(actor, invitationId);
      if (!done) throw invitationNotFound();
      const { invitation, member } = done;
      await record(
        ctx,
        actor,
        "org.invitation_accepted",
        invitation.organizationId,
        { invitationId: invitation.id, role: member.role },
        { as: "user" },
      );
      return { invitation, member };
    },

    async declineInvitation(ctx: Ctx, actor: PublicUser, invitationId: string) {
      const invitation = await invitations.decline(actor, invitationId);
      if (!invitation) throw invitationNotFound();
      await record(ctx, actor, "org.invitation_declined", invitation.organizationId, { invitationId: invitation.id }, { as: "user" });
      return invitation;
    },

    async changeRole(ctx: Ctx, actor: PublicUser, organizationId: string, userId: string, input: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const { role } = roleInput.parse(input);
      const member = await orgs.changeRole(org.id, org.role, userId, role).catch((e: unknown) => Promise.reject(badInput(e)));
      if (!member) throw memberNotFound();
      await record(ctx, actor, "org.role_changed", org.id, { role }, { about: userId });
      return member;
    },

    async removeMember(ctx: Ctx, actor: PublicUser, organizationId: string, userId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const member = await orgs.removeMember(org.id, org.role, userId).catch((e: unknown) => Promise.reject(badInput(e)));
      if (!member) throw memberNotFound();
      await record(ctx, actor, "org.member_removed", org.id, undefined, { about: userId });
      return member;
    },

    /** Owners and admins cap the lifetime of the keys minted in the organisation (src/keys/expiry.ts). */
    async setKeyPolicy(ctx: Ctx, actor: PublicUser, organizationId: string, input: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const parsed = keyPolicyInput.safeParse(input);
      if (!parsed.success) throw new HttpError(400, "invalid_request", parsed.error.issues.map((i) => i.message).join("; "));
      const days = parsed.data.max_key_lifetime_days;
      await orgs.setKeyPolicy(org.id, days);
      await record(ctx, actor, "org.key_policy_changed", org.id, { maxKeyLifetimeDays: days });
      return { ...org, maxKeyLifetimeDays: days };
    },

    async memberKeys(actor: PublicUser, organizationId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      return keys.listForOrganization(org.id);
    },

    async revokeMemberKey(ctx: Ctx, actor: PublicUser, organizationId: string, keyId: string): Promise<MemberKeyView> {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const [done] = await keys.revoke({ kind: "member", organizationId: org.id, id: keyId }, adminActing(ctx, actor, "org_member_keys"));
      if (!done) throw keyNotFound();
      return { ...done.key, ownerId: done.owner.id, ownerEmail: done.owner.email };
    },

    async createApp(ctx: Ctx, actor: PublicUser, organizationId: string, name: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const app = await orgs.createApp(org.id, appNameSchema.parse(name));
      await record(ctx, actor, "app.created", app.id, { organizationId: org.id, name: app.name });
      return app;
    },

    async app(actor: PublicUser, organizationId: string, appId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const app = await orgs.getApp(org.id, appId);
      if (!app) throw appNotFound();
      return { org, app };
    },

    /** `caller`: the session, or the key the request came with (what it may mint: src/keys/mint-policy.ts). */
    async mintAppKey(ctx: Ctx, actor: PublicUser, caller: Caller, organizationId: string, appId: string, input: unknown): Promise<Minted> {
      const { org, app } = await this.app(actor, organizationId, appId);
      const { label, scopes = [], expires } = appKeyInput.parse(input);
      const expiresAt = (() => {
        try {
          const asked = parseExpiry(expires ?? "never");
          return asked.never ? null : asked.at;
        } catch (e) {
          throw badInput(e);
        }
      })();
      if (scopes.some(isManagementScope))
        throw new HttpError(400, "invalid_request", "App keys cannot use Keyward's own API: keys:* and orgs:* are for user keys.");
      const decision = decideMint(caller, { organizationId: org.id, scopes, app: true }, services.config.scopeCatalogue);
      if (!decision.ok) throw refusalError(services.config, decision.refusal);
      // A caller key with limits of its own mints app keys as limited (src/keys/limits/policy.ts).
      const limits = decideMintLimits(caller, {});
      if (!limits.ok) throw new HttpError(403, "insufficient_scope", limits.description);
      return keys
        .mint(
          {
            userId: actor.id,
            organizationId: org.id,
            appId: app.id,
            label: label ?? "",
            scopes,
            source: "portal",
            dpopJkt: decision.dpopJkt,
            expiresAt,
            allowedIps: limits.allowedIps,
            rateLimit: limits.rateLimit,
          },
          adminActing(ctx, actor, "org_app_keys"),
        )
        .catch((e: unknown) => Promise.reject(badInput(e)));
    },

    /**
     * Rolls an app's key (src/keys/roll.ts): admins only, as revoking; a calling key must be able to
     * mint the replacement itself (src/keys/mint-policy.ts), so a weaker key cannot roll to gain more.
     */
    async rollAppKey(ctx: Ctx, actor: PublicUser, caller: Caller, organizationId: string, appId: string, keyId: string, input: unknown) {
      const { org, app } = await this.app(actor, organizationId, appId);
      const overlap = rollInput.safeParse(input);
      if (!overlap.success) throw new HttpError(400, "invalid_request", `overlap must be one of ${ROLL_OVERLAP_NAMES.join(", ")}`);
      const key = (await keys.listForApp(app.id)).find((k) => k.id === keyId);
      if (!key) throw keyNotFound();
      const decision = decideMint(
        caller,
        { organizationId: org.id, scopes: key.scopes, app: true, dpopJkt: key.dpopJkt },
        services.config.scopeCatalogue,
      );
      if (!decision.ok) throw refusalError(services.config, decision.refusal);
      const limitsRefused = rollLimitsRefusal(caller, key);
      if (limitsRefused) throw new HttpError(403, "insufficient_scope", limitsRefused);
      const rolled = await keys
        .roll({ kind: "app", appId: app.id, userId: actor.id, id: key.id }, overlap.data.overlap, adminActing(ctx, actor, "org_app_keys"))
        .catch((e: unknown) => Promise.reject(rollError(e)));
      if (!rolled) throw keyNotFound();
      return rolled;
    },

    async revokeAppKey(ctx: Ctx, actor: PublicUser, organizationId: string, appId: string, keyId: string) {
      const { app } = await this.app(actor, organizationId, appId);
      const [done] = await keys.revoke({ kind: "app", appId: app.id, id: keyId }, adminActing(ctx, actor, "org_app_keys"));
      if (!done) throw keyNotFound();
      return done.key;
    },
  };
}

export type OrgActions = ReturnType<typeof orgActions>;
