// Organisation pages: /app/orgs (yours, and a form to create one), /app/orgs/:orgId (members,
// their keys and the apps, for owners and admins), /app/orgs/:orgId/apps/:appId (an app's keys).
// Server-rendered, POST + redirect, no JavaScript needed. The rules live in src/orgs/actions.ts.
// What cannot be undone (a role change, removing a member, revoking a key) is confirmed first
// (src/web/confirm.ts); a refused form shows its page again with the message next to the form.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import type { PublicUser } from "../accounts/users.js";
import { keyNotFound, memberNotFound, orgForUser } from "../orgs/access.js";
import { orgActions, roleInput } from "../orgs/actions.js";
import { canAdminister, ROLES } from "../orgs/roles.js";
import type { Minted } from "../keys/index.js";
import { requireCsrf } from "./csrf.js";
import { confirmed, sendConfirmation } from "./confirm.js";
import { showErrorsOnForm, type FormError, type RoutedCtx } from "./form-error.js";
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

  const orgPage = async (
    ctx: Ctx,
    user: PublicUser,
    orgId: string,
    extra: { notice?: string; formError?: FormError } = {},
    status = 200,
  ) => {
    const org = await orgForUser(services, user.id, orgId, "member");
    const admin = canAdminister(org.role);
    await sendPage(
      ctx,
      "org",
      {
        title: org.name,
        org,
        admin,
        roles: ROLES,
        members: await orgs.members(org.id),
        memberKeys: admin ? await keys.listForOrganization(org.id) : [],
        apps: admin ? await orgs.apps(org.id) : [],
        invitations: admin ? await actions.invitations(user, org.id) : [],
        notice: extra.notice ?? "",
        formError: extra.formError ?? null,
      },
      status,
    );
  };

  /** A refused org form: the organisation page again, the message next to that form (`form` in views/org.ejs). */
  const onOrgPage = (form: string, target: (ctx: RoutedCtx) => string = () => "") =>
    showErrorsOnForm(form, (ctx, formError, status) => orgPage(ctx, requireLogin(ctx), ctx.params.orgId!, { formError }, status), target);
  const memberTarget = (ctx: RoutedCtx) => ctx.params.userId ?? "";
  const keyTarget = (ctx: RoutedCtx) => ctx.params.keyId ?? "";

  /** A member of the organisation, for the confirmation page (a foreign id is "not found", like a missing one). */
  const memberOf = async (user: PublicUser, orgId: string, userId: string) => {
    const org = await orgForUser(services, user.id, orgId, "admin");
    const member = (await orgs.members(org.id)).find((m) => m.userId === userId);
    if (!member) throw memberNotFound();
    return { org, member };
  };

  router.get(`${ORGS_PAGE}/:orgId`, async (ctx) => {
    const user = requireLogin(ctx);
    const notice = typeof ctx.query.done === "string" ? ctx.query.done.slice(0, 200) : "";
    await orgPage(ctx, user, ctx.params.orgId!, { notice });
  });

  // Issue 28: the organisation's key lifetime cap (views/org-key-policy.ejs); empty = no cap.
  router.post(`${ORGS_PAGE}/:orgId/key-policy`, onOrgPage("keyPolicy"), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const raw = body(ctx).maxDays;
    const text = typeof raw === "string" ? raw.trim() : "";
    const days = text === "" ? null : /^\d{1,5}$/.test(text) ? Number(text) : -1;
    const org = await actions.setKeyPolicy(ctx, user, ctx.params.orgId!, { max_key_lifetime_days: days });
    const said = org.maxKeyLifetimeDays
      ? `Keys minted here now live at most ${org.maxKeyLifetimeDays} days.`
      : "Keys minted here have no lifetime cap now.";
    seeOther(ctx, `${orgPath(org.id)}?done=${encodeURIComponent(said)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/members`, onOrgPage("invite"), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const invitation = await actions.invite(ctx, user, ctx.params.orgId!, body(ctx));
    seeOther(
      ctx,
      `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Invited ${invitation.email} as ${invitation.role}. They join when they accept.`)}`,
    );
  });

  router.post(`${ORGS_PAGE}/:orgId/invitations/:invitationId/revoke`, onOrgPage("invitation"), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const invitation = await actions.revokeInvitation(ctx, user, ctx.params.orgId!, ctx.params.invitationId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Revoked the invitation for ${invitation.email}.`)}`);
  });

  // Role change: the row's form posts here; without the confirmation it shows what will change.
  const confirmRole = async (ctx: RoutedCtx, user: PublicUser, role: unknown) => {
    const { org, member } = await memberOf(user, ctx.params.orgId!, ctx.params.userId!);
    const wanted = roleInput.parse({ role }).role;
    await sendConfirmation(ctx, {
      question: `Make ${member.email} ${wanted} of ${org.name}?`,
      consequences: [
        `${member.email} is ${member.role} now and will be ${wanted}.`,
        "The change applies to their existing keys on their next request.",
      ],
      action: `${orgPath(org.id)}/members/${encodeURIComponent(member.userId)}/role`,
      confirmLabel: `Yes, make them ${wanted}`,
      cancelHref: orgPath(org.id),
      fields: { role: wanted },
    });
  };

  router.get(`${ORGS_PAGE}/:orgId/members/:userId/role`, async (ctx) => {
    await confirmRole(ctx, requireLogin(ctx), ctx.query.role);
  });

  router.post(`${ORGS_PAGE}/:orgId/members/:userId/role`, onOrgPage("member", memberTarget), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    if (!confirmed(ctx)) return confirmRole(ctx, user, body(ctx).role);
    const member = await actions.changeRole(ctx, user, ctx.params.orgId!, ctx.params.userId!, body(ctx));
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`${member.email} is now ${member.role}.`)}`);
  });

  const confirmRemove = async (ctx: RoutedCtx, user: PublicUser) => {
    const { org, member } = await memberOf(user, ctx.params.orgId!, ctx.params.userId!);
    await sendConfirmation(ctx, {
      question: `Remove ${member.email} from ${org.name}?`,
      consequences: [
        `${member.email} (${member.role}) leaves ${org.name}: their keys that act in it stop working at once.`,
        "This cannot be undone: to bring them back, invite them again and mint new keys.",
      ],
      action: `${orgPath(org.id)}/members/${encodeURIComponent(member.userId)}/remove`,
      confirmLabel: `Yes, remove ${member.email}`,
      cancelHref: orgPath(org.id),
    });
  };

  router.get(`${ORGS_PAGE}/:orgId/members/:userId/remove`, async (ctx) => {
    await confirmRemove(ctx, requireLogin(ctx));
  });

  router.post(`${ORGS_PAGE}/:orgId/members/:userId/remove`, onOrgPage("member", memberTarget), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    if (!confirmed(ctx)) return confirmRemove(ctx, user);
    const member = await actions.removeMember(ctx, user, ctx.params.orgId!, ctx.params.userId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Removed ${member.email}.`)}`);
  });

  const confirmMemberKeyRevoke = async (ctx: RoutedCtx, user: PublicUser) => {
    const org = await orgForUser(services, user.id, ctx.params.orgId!, "admin");
    const key = (await keys.listForOrganization(org.id)).find((k) => k.id === ctx.params.keyId && k.status === "active");
    if (!key) throw keyNotFound();
    await sendConfirmation(ctx, {
      question: `Revoke ${key.ownerEmail}'s key ending in ${key.last4}?`,
      consequences: [
        `“${key.label}” ending in ${key.last4}, ${key.ownerEmail}'s key, stops working on its next request.`,
        "This cannot be undone: they will need a new key.",
      ],
      action: `${orgPath(org.id)}/keys/${encodeURIComponent(key.id)}/revoke`,
      confirmLabel: "Yes, revoke this key",
      cancelHref: orgPath(org.id),
    });
  };

  router.get(`${ORGS_PAGE}/:orgId/keys/:keyId/revoke`, async (ctx) => {
    await confirmMemberKeyRevoke(ctx, requireLogin(ctx));
  });

  router.post(`${ORGS_PAGE}/:orgId/keys/:keyId/revoke`, onOrgPage("memberKey", keyTarget), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    if (!confirmed(ctx)) return confirmMemberKeyRevoke(ctx, user);
    const key = await actions.revokeMemberKey(ctx, user, ctx.params.orgId!, ctx.params.keyId!);
    seeOther(ctx, `${orgPath(ctx.params.orgId!)}?done=${encodeURIComponent(`Revoked ${key.ownerEmail}'s key ending in ${key.last4}.`)}`);
  });

  router.post(`${ORGS_PAGE}/:orgId/apps`, onOrgPage("app"), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const app = await actions.createApp(ctx, user, ctx.params.orgId!, body(ctx).name);
    seeOther(ctx, appPath(ctx.params.orgId!, app.id));
  });

  const appPage = async (
    ctx: Ctx,
    user: PublicUser,
    orgId: string,
    appId: string,
    revealed: Minted | null,
    status = 200,
    formError: FormError | null = null,
  ) => {
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
        formError,
      },
      status,
    );
  };

  /** A refused app-page form: the app's page again, the message next to that form (`form` in views/org-app.ejs). */
  const onAppPage = (form: string, target: (ctx: RoutedCtx) => string = () => "") =>
    showErrorsOnForm(
      form,
      (ctx, formError, status) => appPage(ctx, requireLogin(ctx), ctx.params.orgId!, ctx.params.appId!, null, status, formError),
      target,
    );

  router.get(`${ORGS_PAGE}/:orgId/apps/:appId`, async (ctx) => {
    const user = requireLogin(ctx);
    await appPage(ctx, user, ctx.params.orgId!, ctx.params.appId!, null);
  });

  router.post(`${ORGS_PAGE}/:orgId/apps/:appId/keys`, onAppPage("appKey"), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const form = body(ctx);
    const input =
      form.expires === "date"
        ? { ...form, expires: typeof form.expiresDate === "string" && form.expiresDate ? form.expiresDate : "missing date" }
        : form;
    const minted = await actions.mintAppKey(ctx, user, { via: "session" }, ctx.params.orgId!, ctx.params.appId!, input);
    // The only response with the raw key: rendered, never redirected or cached.
    await appPage(ctx, user, ctx.params.orgId!, ctx.params.appId!, minted, 201);
  });

  // Issue 28: roll an app key; the replacement is rendered once on the app's page, as a mint is.
  router.post(`${ORGS_PAGE}/:orgId/apps/:appId/keys/:keyId/roll`, onAppPage("appKeyRevoke", keyTarget), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const rolled = await actions.rollAppKey(ctx, user, { via: "session" }, ctx.params.orgId!, ctx.params.appId!, ctx.params.keyId!, {
      overlap: body(ctx).overlap,
    });
    await appPage(ctx, user, ctx.params.orgId!, ctx.params.appId!, rolled, 201);
  });

  const confirmAppKeyRevoke = async (ctx: RoutedCtx, user: PublicUser) => {
    const { org, app } = await actions.app(user, ctx.params.orgId!, ctx.params.appId!);
    const key = (await keys.listForApp(app.id)).find((k) => k.id === ctx.params.keyId && k.status === "active");
    if (!key) throw keyNotFound();
    await sendConfirmation(ctx, {
      question: `Revoke ${app.name}'s key ending in ${key.last4}?`,
      consequences: [
        `“${key.label}” ending in ${key.last4} stops working on its next request: whatever uses it for ${app.name} loses access.`,
        "This cannot be undone.",
      ],
      action: `${appPath(org.id, app.id)}/keys/${encodeURIComponent(key.id)}/revoke`,
      confirmLabel: "Yes, revoke this key",
      cancelHref: appPath(org.id, app.id),
    });
  };

  router.get(`${ORGS_PAGE}/:orgId/apps/:appId/keys/:keyId/revoke`, async (ctx) => {
    await confirmAppKeyRevoke(ctx, requireLogin(ctx));
  });

  router.post(`${ORGS_PAGE}/:orgId/apps/:appId/keys/:keyId/revoke`, onAppPage("appKeyRevoke", keyTarget), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    if (!confirmed(ctx)) return confirmAppKeyRevoke(ctx, user);
    const key = await actions.revokeAppKey(ctx, user, ctx.params.orgId!, ctx.params.appId!, ctx.params.keyId!);
    seeOther(
      ctx,
      `${appPath(ctx.params.orgId!, ctx.params.appId!)}?done=${encodeURIComponent(`Revoked the app key ending in ${key.last4}.`)}`,
    );
  });

  return router;
}
