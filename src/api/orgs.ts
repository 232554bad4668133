// JSON API for organisations: /api/orgs. Same rules as the org pages (src/http/org-actions.ts):
// a foreign organisation, member, app or key id answers exactly like a missing one.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { parseBody } from "../http/body.js";
import { orgForUser } from "../http/org-access.js";
import { orgActions } from "../http/org-actions.js";
import { apiAuth } from "./auth.js";

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
  const router = new Router<KeywardState>({ prefix: "/api/orgs" });
  router.use(async (ctx, next) => {
    ctx.set("Cache-Control", "no-store");
    await next();
  });
  router.use(apiAuth(services));

  router.get("/", async (ctx) => {
    ctx.body = { data: await services.orgs.listForUser(userOf(ctx).id) };
  });

  router.post("/", parseBody(), async (ctx) => {
    const body = json(ctx) as { name?: unknown };
    ctx.status = 201;
    ctx.body = await actions.create(ctx, userOf(ctx), body.name);
  });

  router.get("/:orgId", async (ctx) => {
    ctx.body = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "member");
  });

  router.get("/:orgId/members", async (ctx) => {
    const org = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "member");
    ctx.body = { data: await services.orgs.members(org.id) };
  });

  router.post("/:orgId/members", parseBody(), async (ctx) => {
    ctx.status = 201;
    ctx.body = await actions.addMember(ctx, userOf(ctx), ctx.params.orgId!, json(ctx));
  });

  router.patch("/:orgId/members/:userId", parseBody(), async (ctx) => {
    ctx.body = await actions.changeRole(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.userId!, json(ctx));
  });

  router.delete("/:orgId/members/:userId", async (ctx) => {
    ctx.body = await actions.removeMember(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.userId!);
  });

  router.get("/:orgId/keys", async (ctx) => {
    ctx.body = { data: await actions.memberKeys(userOf(ctx), ctx.params.orgId!) };
  });

  router.delete("/:orgId/keys/:keyId", async (ctx) => {
    ctx.body = await actions.revokeMemberKey(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.keyId!);
  });

  router.get("/:orgId/apps", async (ctx) => {
    const org = await orgForUser(services, userOf(ctx).id, ctx.params.orgId!, "admin");
    ctx.body = { data: await services.orgs.apps(org.id) };
  });

  router.post("/:orgId/apps", parseBody(), async (ctx) => {
    const body = json(ctx) as { name?: unknown };
    ctx.status = 201;
    ctx.body = await actions.createApp(ctx, userOf(ctx), ctx.params.orgId!, body.name);
  });

  router.get("/:orgId/apps/:appId/keys", async (ctx) => {
    const { app } = await actions.app(userOf(ctx), ctx.params.orgId!, ctx.params.appId!);
    ctx.body = { data: await services.keys.listForApp(app.id) };
  });

  router.post("/:orgId/apps/:appId/keys", parseBody(), async (ctx) => {
    const minted = await actions.mintAppKey(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.appId!, json(ctx));
    ctx.status = 201;
    ctx.body = { ...minted.key, key: minted.raw };
  });

  router.delete("/:orgId/apps/:appId/keys/:keyId", async (ctx) => {
    ctx.body = await actions.revokeAppKey(ctx, userOf(ctx), ctx.params.orgId!, ctx.params.appId!, ctx.params.keyId!);
  });

  return router;
}
