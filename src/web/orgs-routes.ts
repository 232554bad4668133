// Organisation pages: /app/orgs (yours, and a form to create one), /app/orgs/:orgId (members,
// their keys and the apps, for owners and admins), /app/orgs/:orgId/apps/:appId (an app's keys).
// Server-rendered, POST + redirect, no JavaScript needed. The rules live in src/orgs/actions.ts.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import type { PublicUser } from "../accounts/users.js";
import { orgForUser } from "../orgs/access.js";
import { orgActions } from "../orgs/actions.js";
import { canAdminister, ROLES } from "../orgs/roles.js";
import type { Minted } from "../keys/index.js";
import { requireCsrf } from "./csrf.js";
import { sendPage } from "./render.js";
import { endOnRedirect, requireLogin } from "./require-login.js";

export const ORGS_PAGE = "/app/orgs";

const seeOther = (ctx: Ctx, to: string) => {
  ctx.status = 303;
  ctx.redirect(to);
};

const orgPath = (orgId: string) => `${ORGS_PAGE}/${encodeURIComponent(orgId)}`;
const appPath = (orgId: string, appId: string) => `${orgPath(orgId)}/apps/${encodeURIComponent(appId)}`;
const body = (ctx: Ctx) => (ctx.request.body ?? {}) as Record<string, unknown>;

export function orgsRoutes(services: Services): Router<KeywardState> {
  const { orgs, keys, config } = services;
  const actions = orgActions(services);
  const router = new Router<KeywardState>();

  router.use(endOnRedirect);

  router.get(ORGS_PAGE, async (ctx) => {
    const user = requireLogin(ctx);
    const notice = typeof ctx.query.done === "string" ? ctx.query.done.slice(0, 200) : "";
    await sendPage(ctx, "orgs", {
      title: "Organisations",
      orgs: await orgs.listForUser(user.id),
      invitations: await actions.myInvitations(user),
      notice,
    });
  });

  // Invitations addressed to the signed-in user: accept (join with the invited role) or decline.
  router.post(`${ORGS_PAGE}/invitations/:invitationId/accept`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const { invitation, member } = await actions.acceptInvitation(ctx, user, ctx.params.invitationId!);
    seeOther(
      ctx,
      `${orgPath(invitation.organizationId)}?done=${encodeURIComponent(`You joined ${invitation.organizationName} as ${member.role}.`)}`,
    );
  });

  router.post(`${ORGS_PAGE}/invitations/:invitationId/decline`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const invitation = await actions.declineInvitation(ctx, user, ctx.params.invitationId!);
    seeOther(ctx, `${ORGS_PAGE}?done=${encodeURIComponent(`Declined the invitation to ${invitation.organizationName}.`)}`);
  });

  router.post(ORGS_PAGE, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const org = await actions.create(ctx, user, body(ctx).name);
    seeOther(ctx, orgPath(org.id));
  });

  const orgPage = async (ctx: Ctx, user: PublicUser, orgId: string, extra: { notice?: string } = {}) => {
    const org = await orgForUser(services, user.id, orgId, "member");
    const admin = canAdminister(org.role);
    await sendPage(ctx, "org", {
      title: org.name,
      org,
      admin,
      roles: ROLES,
      members: await orgs.members(org.id),
      memberKeys: admin ? await keys.listForOrganization(org.id) : [],
      apps: admin ? await orgs.apps(org.id) : [],
      invitations: admin ? await actions.invitations(user, org.id) : [],
      notice: extra.notice ?? "",
    });
  };

  router.get(`${ORGS_PAGE}/:orgId`, async (ctx) => {
    const user = requireLogin(ctx);
    const notice = typeof ctx.query.done === "string" ? ctx.query.done.slice(0, 200) : "";
    await orgPage(ctx, user, ctx.params.orgId!, { notice });
  });

  router.post(`${ORGS_PAGE}/:orgId/members`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const invitation = await actions.invite(ctx, user, ctx.params.orgId!, body(ctx));
    seeOther(
      ctx,
      `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Invited ${invitation.email} as ${invitation.role}. They join when they accept.`)}`,
    );
  });

  router.post(`${ORGS_PAGE}/:orgId/invitations/:invitationId/revoke`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const invitation = await actions.revokeInvitation(ctx, user, ctx.params.orgId!, ctx.params.invitationId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Revoked the invitation for ${invitation.email}.`)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/members/:userId/role`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const member = await actions.changeRole(ctx, user, ctx.params.orgId!, ctx.params.userId!, body(ctx));
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`${member.email} is now ${member.role}.`)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/members/:userId/remove`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const member = await actions.removeMember(ctx, user, ctx.params.orgId!, ctx.params.userId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Removed ${member.email}.`)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/keys/:keyId/revoke`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await actions.revokeMemberKey(ctx, user, ctx.params.orgId!, ctx.params.keyId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Revoked ${key.ownerEmail}'s key ending in ${key.last4}.`)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/apps`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const app = await actions.createApp(ctx, user, ctx.params.orgId!, body(ctx).name);
    seeOther(ctx, appPath(ctx.params.orgId!, app.id));
  });

  const appPage = async (ctx: Ctx, user: PublicUser, orgId: string, appId: string, revealed: Minted | null, status = 200) => {
    const { org, app } = await actions.app(user, orgId, appId);
    await sendPage(
      ctx,
      "org-app",
      {
        title: app.name,
        org,
        app,
        keys: await keys.listForApp(app.id),
        revealed,
        scopeDefinitions: config.scopeCatalogue,
        notice: typeof ctx.query.done === "string" ? ctx.query.done.slice(0, 200) : "",
      },
      status,
    );
  };

  router.get(`${ORGS_PAGE}/:orgId/apps/:appId`, async (ctx) => {
    const user = requireLogin(ctx);
    await appPage(ctx, user, ctx.params.orgId!, ctx.params.appId!, null);
  });

  router.post(`${ORGS_PAGE}/:orgId/apps/:appId/keys`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const minted = await actions.mintAppKey(ctx, user, { via: "session" }, ctx.params.orgId!, ctx.params.appId!, body(ctx));
    // The only response with the raw key: rendered, never redirected or cached.
    await appPage(ctx, user, ctx.params.orgId!, ctx.params.appId!, minted, 201);
  });

  router.post(`${ORGS_PAGE}/:orgId/apps/:appId/keys/:keyId/revoke`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await actions.revokeAppKey(ctx, user, ctx.params.orgId!, ctx.params.appId!, ctx.params.keyId!);
    seeOther(
      ctx,
      `${appPath(ctx.params.orgId!, ctx.params.appId!)}?done=${encodeURIComponent(`Revoked the app key ending in ${key.last4}.`)}`,
    );
  });

  return router;
}
