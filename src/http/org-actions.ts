// What an organisation's owners and admins do, shared by the org pages and the JSON API: every
// change is audit-logged, every id from the request is scoped to the organisation (a foreign id
// is "not found", exactly like a missing one).
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx } from "./state.js";
import { HttpError } from "./errors.js";
import { appNotFound, keyNotFound, memberNotFound, orgForUser } from "./org-access.js";
import { OrgInputError } from "../orgs/organizations.js";
import { roleSchema } from "../orgs/roles.js";
import { KeyInputError, labelSchema, scopesSchema, type Minted } from "../keys/index.js";
import { emailSchema, type PublicUser } from "../accounts/users.js";

export const orgNameSchema = z.string().trim().min(1, "Name the organisation").max(100, "At most 100 characters").regex(/^[^\p{Cc}\p{Cf}]*$/u, "No control characters");
export const appNameSchema = orgNameSchema;
export const memberInput = z.object({ email: emailSchema, role: roleSchema });
export const roleInput = z.object({ role: roleSchema });
export const appKeyInput = z.object({ label: labelSchema.optional(), scopes: scopesSchema.optional() });

const meta = (ctx: Ctx) => ({ ip: ctx.ip, userAgent: ctx.get("user-agent") || null });
const badInput = (err: unknown) => {
  if (err instanceof OrgInputError || err instanceof KeyInputError) return new HttpError(400, "invalid_request", err.message);
  return err;
};

export function orgActions(services: Services) {
  const { orgs, keys, audit } = services;
  return {
    async create(ctx: Ctx, actor: PublicUser, name: unknown) {
      const org = await orgs.create(actor.id, orgNameSchema.parse(name));
      await audit.record({ userId: actor.id, actor: { type: "user", id: actor.id }, action: "org.created", targetId: org.id, ...meta(ctx), details: { name: org.name } });
      return org;
    },

    async addMember(ctx: Ctx, actor: PublicUser, organizationId: string, input: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const { email, role } = memberInput.parse(input);
      const member = await orgs.addMember(org.id, org.role, email, role).catch((e: unknown) => Promise.reject(badInput(e)));
      await audit.record({ userId: member.userId, actor: { type: "org_admin", id: actor.id }, action: "org.member_added", targetId: org.id, ...meta(ctx), details: { role } });
      return member;
    },

    async changeRole(ctx: Ctx, actor: PublicUser, organizationId: string, userId: string, input: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const { role } = roleInput.parse(input);
      const member = await orgs.changeRole(org.id, org.role, userId, role).catch((e: unknown) => Promise.reject(badInput(e)));
      if (!member) throw memberNotFound();
      await audit.record({ userId, actor: { type: "org_admin", id: actor.id }, action: "org.role_changed", targetId: org.id, ...meta(ctx), details: { role } });
      return member;
    },

    async removeMember(ctx: Ctx, actor: PublicUser, organizationId: string, userId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const member = await orgs.removeMember(org.id, org.role, userId).catch((e: unknown) => Promise.reject(badInput(e)));
      if (!member) throw memberNotFound();
      await audit.record({ userId, actor: { type: "org_admin", id: actor.id }, action: "org.member_removed", targetId: org.id, ...meta(ctx) });
      return member;
    },

    async memberKeys(actor: PublicUser, organizationId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      return keys.listForOrganization(org.id);
    },

    async revokeMemberKey(ctx: Ctx, actor: PublicUser, organizationId: string, keyId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const before = await keys.getInOrganization(org.id, keyId);
      if (!before) throw keyNotFound();
      const key = await keys.revokeInOrganization(org.id, keyId);
      if (!key) throw keyNotFound();
      if (before.status === "active") {
        await audit.record({ userId: key.ownerId, actor: { type: "org_admin", id: actor.id }, action: "key.revoked", targetId: key.id, ...meta(ctx), details: { organizationId: org.id, label: key.label, last4: key.last4 } });
      }
      return key;
    },

    async createApp(ctx: Ctx, actor: PublicUser, organizationId: string, name: unknown) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const app = await orgs.createApp(org.id, appNameSchema.parse(name));
      await audit.record({ userId: actor.id, actor: { type: "org_admin", id: actor.id }, action: "app.created", targetId: app.id, ...meta(ctx), details: { organizationId: org.id, name: app.name } });
      return app;
    },

    async app(actor: PublicUser, organizationId: string, appId: string) {
      const org = await orgForUser(services, actor.id, organizationId, "admin");
      const app = await orgs.getApp(org.id, appId);
      if (!app) throw appNotFound();
      return { org, app };
    },

    async mintAppKey(ctx: Ctx, actor: PublicUser, organizationId: string, appId: string, input: unknown): Promise<Minted> {
      const { org, app } = await this.app(actor, organizationId, appId);
      const { label, scopes } = appKeyInput.parse(input);
      const minted = await keys
        .mint({ userId: actor.id, organizationId: org.id, appId: app.id, label: label ?? "", scopes: scopes ?? [], source: "portal" })
        .catch((e: unknown) => Promise.reject(badInput(e)));
      await audit.record({ userId: actor.id, actor: { type: "org_admin", id: actor.id }, action: "app_key.minted", targetId: minted.key.id, ...meta(ctx), details: { organizationId: org.id, appId: app.id, label: minted.key.label } });
      return minted;
    },

    async revokeAppKey(ctx: Ctx, actor: PublicUser, organizationId: string, appId: string, keyId: string) {
      const { org, app } = await this.app(actor, organizationId, appId);
      const before = await keys.getForApp(app.id, keyId);
      if (!before) throw keyNotFound();
      const key = (await keys.revokeForApp(app.id, keyId))!;
      if (before.status === "active") {
        await audit.record({ userId: actor.id, actor: { type: "org_admin", id: actor.id }, action: "app_key.revoked", targetId: key.id, ...meta(ctx), details: { organizationId: org.id, appId: app.id, label: key.label } });
      }
      return key;
    },
  };
}

export type OrgActions = ReturnType<typeof orgActions>;
