// "Connected apps": OAuth keys grouped by the client that received them, with a one-click
// disconnect that revokes every key of that client and forgets the consent, after a confirmation page
// (src/web/confirm.ts). A refused disconnect (a stale form) shows this page again with the message.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import type { KeyView } from "../keys/index.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "./csrf.js";
import { confirmed, sendConfirmation } from "./confirm.js";
import { showErrorsOnForm, type FormError, type RoutedCtx } from "./form-error.js";
import { sendPage } from "./render.js";
import { loginUrlFor } from "./require-login.js";
import { requestMeta } from "../http/request-meta.js";
import { appUsageCharts } from "./connected-apps-usage.js";

export const APPS_PAGE = "/app/account/connected-apps";

export interface ConnectedApp {
  clientId: string;
  name: string;
  activeKeys: number;
  totalKeys: number;
  lastUsedAt: string | null;
  firstAuthorizedAt: string;
}

export function groupByClient(keys: KeyView[]): ConnectedApp[] {
  const apps = new Map<string, ConnectedApp>();
  for (const k of keys) {
    if (k.source !== "oauth" || !k.clientId) continue;
    const app = apps.get(k.clientId) ?? {
      clientId: k.clientId,
      name: k.label.replace(/^OAuth: /, ""),
      activeKeys: 0,
      totalKeys: 0,
      lastUsedAt: null,
      firstAuthorizedAt: k.createdAt,
    };
    app.totalKeys++;
    if (k.status === "active") app.activeKeys++;
    if (k.lastUsedAt && (!app.lastUsedAt || k.lastUsedAt > app.lastUsedAt)) app.lastUsedAt = k.lastUsedAt;
    if (k.createdAt < app.firstAuthorizedAt) app.firstAuthorizedAt = k.createdAt;
    apps.set(k.clientId, app);
  }
  return [...apps.values()].sort((a, b) => b.activeKeys - a.activeKeys || a.name.localeCompare(b.name));
}

export function connectedAppsRoutes(services: Services): Router<KeywardState> {
  const { keys, db } = services;
  const router = new Router<KeywardState>();

  const user = (ctx: Ctx) => {
    const u = ctx.state.session?.user;
    if (!u) throw new HttpError(401, "unauthorized", "Log in to see your connected apps.");
    return u;
  };

  const appsPage = async (ctx: Ctx, formError: FormError | null = null, status = 200) => {
    const oauthKeys = await keys.listOAuth(user(ctx).id);
    const apps = groupByClient(oauthKeys);
    const notice = typeof ctx.query.disconnected === "string" ? `Disconnected. Its keys no longer work.` : "";
    const usage = await appUsageCharts(keys, apps, oauthKeys);
    const attempts = (await services.doctor.events.clientsOf(user(ctx).id)).filter((c) => !apps.some((a) => a.clientId === c)); // issue 26
    await sendPage(ctx, "connected-apps", { title: "Connected apps", apps, notice, formError, usage, attempts }, status);
  };

  router.get(APPS_PAGE, async (ctx) => {
    if (!ctx.state.session) return ctx.redirect(loginUrlFor(ctx, APPS_PAGE));
    await appsPage(ctx);
  });

  /** What disconnecting will do, in words; a client this user has no active key from is "not found". */
  const confirmDisconnect = async (ctx: RoutedCtx) => {
    const app = groupByClient(await keys.listOAuth(user(ctx).id)).find((a) => a.clientId === ctx.params.clientId && a.activeKeys > 0);
    if (!app) throw new HttpError(404, "not_found", "No connected app with that id.");
    const keysWord = app.activeKeys === 1 ? "its key" : `all ${app.activeKeys} of its keys`;
    await sendConfirmation(ctx, {
      question: `Disconnect ${app.name}?`,
      consequences: [
        `${app.name} (client id ${app.clientId}) loses access: ${keysWord} stop working on the next request, and your consent is forgotten.`,
        "This cannot be undone: to use it again, connect it again and approve it.",
      ],
      action: `${APPS_PAGE}/${encodeURIComponent(app.clientId)}/disconnect`,
      confirmLabel: `Yes, disconnect ${app.name}`,
      cancelHref: APPS_PAGE,
    });
  };

  router.get(`${APPS_PAGE}/:clientId/disconnect`, async (ctx) => {
    if (!ctx.state.session) return ctx.redirect(loginUrlFor(ctx, APPS_PAGE));
    await confirmDisconnect(ctx);
  });

  const onAppsPage = showErrorsOnForm(
    "disconnect",
    (ctx, formError, status) => appsPage(ctx, formError, status),
    (ctx) => ctx.params.clientId ?? "",
  );

  router.post(`${APPS_PAGE}/:clientId/disconnect`, onAppsPage, requireCsrf, async (ctx) => {
    if (!confirmed(ctx)) return confirmDisconnect(ctx);
    const u = user(ctx);
    const clientId = ctx.params.clientId!;
    const meta = requestMeta(ctx);
    const actor = { type: "user" as const, id: u.id };
    const found = await keys.revoke({ kind: "client", clientId, userId: u.id }, { actor, via: "connected_apps", ...meta });
    const revoked = found.filter((k) => k.wasActive).length;
    const grants = [...new Set(found.flatMap((k) => (k.grantId ? [k.grantId] : [])))];
    if (revoked === 0 && grants.length === 0) throw new HttpError(404, "not_found", "No connected app with that id.");
    // Forget the consent too, so the app must ask again.
    await db.oidcPayload.deleteMany({ where: { model: "Grant", id: { in: grants } } });
    await services.audit.record({
      userId: u.id,
      actor,
      action: "oauth.disconnected",
      targetId: clientId,
      ...meta,
      details: { keysRevoked: revoked },
    });
    ctx.status = 303;
    ctx.redirect(`${APPS_PAGE}?disconnected=1`);
  });

  return router;
}
