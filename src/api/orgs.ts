// JSON API for organisations: /api/orgs, and the caller's invitations: /api/invitations. Same rules
// as the org pages (src/orgs/actions.ts): a foreign organisation, member, app, key or invitation
// id answers exactly like a missing one. With a key, reading needs orgs:read and changing anything
// needs orgs:write (src/keys/mint-policy.ts); a browser session has both.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { parseBody } from "../http/body.js";
import { orgForUser } from "../orgs/access.js";
import { orgActions } from "../orgs/actions.js";
import { apiAuth, callerOf, requireScope } from "./auth.js";

const userOf = (ctx: Ctx) => {
  const user = ctx.state.auth?.user;
  if (!user) throw new HttpError(401, "unauthorized", "This API acts for a user: use a user's key or a session");
  return user;
};

const json = (ctx: Ctx) => {
  if (!ctx.is("application/json")) throw new HttpError(415, "unsupported_media_type", "Send the body as application/json");
  return ctx.request.body ?? {};
};

export function orgsApi(services: Services): Router<KeywardState> {
  const actions = orgActions(services);
  const router = new Router<KeywardState>();
  router.use(["/api/orgs", "/api/invitations"], async (ctx, next) => {
    ctx.set("Cache-Control", "no-store");
    await next();
  });
  router.use(["/api/orgs", "/api/invitations"], apiAuth(services));
  const read = requireScope(services, "orgs:read");
  const write = requireScope(services, "orgs:write");

  router.get("/api/orgs", read, async (ctx) => {
    ctx.body = { data: await services.orgs.listForUser(userOf(ctx).id) };
  });

  router.post("/api/orgs", write, parseBody(), async (ctx) => {
    const body = json(ctx) as { name?: unknown };
    ctx.status = 201;
    ctx.body = await actions.create(ctx, userOf(ctx), body.name);
  });

  router.get("/api/orgs/:orgId", read, async (ctx) => {
    ctx.body = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "member");
  });

  // The organisation's cap on its keys' lifetime: { "max_key_lifetime_days": 90 } or null (owners and admins).
  router.put("/api/orgs/:orgId/key-policy", write, parseBody(), async (ctx) => {
    ctx.body = await actions.setKeyPolicy(ctx, userOf(ctx), ctx.params.orgId!, json(ctx));
  });

  router.get("/api/orgs/:orgId/members", read, async (ctx) => {
    const org = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "member");
    ctx.body = { data: await services.orgs.members(org.id) };
  });

  // Adding someone is an invitation they accept: 202 and the same body whatever the email.
  router.post("/api/orgs/:orgId/members", write, parseBody(), async (ctx) => {
    const invitation = await actions.invite(ctx, userOf(ctx), ctx.params.orgId!, json(ctx));
    ctx.status = 202;
    ctx.body = invitation;
  });

  router.get("/api/orgs/:orgId/invitations", read, async (ctx) => {
    ctx.body = { data: await actions.invitations(userOf(ctx), ctx.params.orgId!) };
  });

  router.delete("/api/orgs/:orgId/invitations/:invitationId", write, async (ctx) => {
    ctx.body = await actions.revokeInvitation(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.invitationId!);
  });

  router.patch("/api/orgs/:orgId/members/:userId", write, parseBody(), async (ctx) => {
    ctx.body = await actions.changeRole(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.userId!, json(ctx));
  });

  router.delete("/api/orgs/:orgId/members/:userId", write, async (ctx) => {
    ctx.body = await actions.removeMember(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.userId!);
  });

  router.get("/api/orgs/:orgId/keys", read, async (ctx) => {
    ctx.body = { data: await actions.memberKeys(userOf(ctx), ctx.params.orgId!) };
  });

  router.delete("/api/orgs/:orgId/keys/:keyId", write, async (ctx) => {
    ctx.body = await actions.revokeMemberKey(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.keyId!);
  });

  router.get("/api/orgs/:orgId/apps", read, async (ctx) => {
    const org = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "admin");
    ctx.body = { data: await services.orgs.apps(org.id) };
  });

  router.post("/api/orgs/:orgId/apps", write, parseBody(), async (ctx) => {
    const body = json(ctx) as { name?: unknown };
    ctx.status = 201;
    ctx.body = await actions.createApp(ctx, userOf(ctx), ctx.params.orgId!, body.name);
  });

  router.get("/api/orgs/:orgId/apps/:appId/keys", read, async (ctx) => {
    const { app } = await actions.app(userOf(ctx), ctx.params.orgId!, ctx.params.appId!);
    ctx.body = { data: await services.keys.listForApp(app.id) };
  });

  router.post("/api/orgs/:orgId/apps/:appId/keys", write, parseBody(), async (ctx) => {
    const minted = await actions.mintAppKey(ctx, userOf(ctx), callerOf(ctx), ctx.params.orgId!, ctx.params.appId!, json(ctx));
    ctx.status = 201;
    ctx.body = { ...minted.key, key: minted.raw };
  });

  router.post("/api/orgs/:orgId/apps/:appId/keys/:keyId/roll", write, parseBody(), async (ctx) => {
    const rolled = await actions.rollAppKey(
      ctx,
      userOf(ctx),
      callerOf(ctx),
      ctx.params.orgId!,
      ctx.params.appId!,
      ctx.params.keyId!,
      json(ctx),
    );
    ctx.status = 201;
    ctx.body = { ...rolled.key, key: rolled.raw, replaces: rolled.old };
  });

  router.delete("/api/orgs/:orgId/apps/:appId/keys/:keyId", write, async (ctx) => {
    ctx.body = await actions.revokeAppKey(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.appId!, ctx.params.keyId!);
  });

  // Invitations addressed to the caller (bound to their account when sent: src/orgs/invitations.ts).
  router.get("/api/invitations", read, async (ctx) => {
    ctx.body = { data: await actions.myInvitations(userOf(ctx)) };
  });

  router.post("/api/invitations/:invitationId/accept", write, async (ctx) => {
    ctx.body = await actions.acceptInvitation(ctx, userOf(ctx), ctx.params.invitationId!);
  });

  router.post("/api/invitations/:invitationId/decline", write, async (ctx) => {
    ctx.body = await actions.declineInvitation(ctx, userOf(ctx), ctx.params.invitationId!);
  });

  return router;
}
