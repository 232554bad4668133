// Issue 28 on the pages: a key's limits (IP allowlist, rate limit) on its detail page, and an OAuth
// client's limits for this user (Connected apps), which its keys carry now and later. A refused
// value comes back on the same page with the message next to the form and what was typed kept.
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { KeyInputError, type KeyActing, type LimitChanges } from "../keys/index.js";
import { parseAllowlist } from "../keys/limits/cidr.js";
import { rateLimitFromText } from "../keys/limits/input.js";
import { HttpError } from "../http/errors.js";
import { requestMeta } from "../http/request-meta.js";
import { requireCsrf } from "./csrf.js";
import { showErrorsOnForm, type FormError, type RoutedCtx } from "./form-error.js";
import { requireLogin } from "./require-login.js";
import { sendPage } from "./render.js";
import { KEYS_PAGE } from "./api-keys-routes.js";
import { APPS_PAGE } from "./connected-apps-routes.js";
import { keyNotFound, sendKeyDetail } from "./key-detail.js";

const limitsForm = z.object({
  allowedIps: z.string().max(10_000, "The IP allowlist is too long").default(""),
  rateLimit: z.string().max(20, "The rate limit must be a whole number of requests per minute").default(""),
});

/** The form's two fields → the changes (an empty field removes that limit); bad input → 400 with words. */
function changesOf(body: unknown): Required<LimitChanges> {
  const form = limitsForm.parse(body ?? {});
  const ranges = parseAllowlist(form.allowedIps);
  if (!ranges.ok) throw new HttpError(400, "invalid_request", ranges.message);
  const rate = rateLimitFromText(form.rateLimit);
  if (!rate.ok) throw new HttpError(400, "invalid_request", rate.message);
  return { allowedIps: ranges.ranges.length ? ranges.ranges : null, rateLimit: rate.value };
}

const acting = (ctx: Ctx, userId: string, via: KeyActing["via"]): KeyActing => ({
  actor: { type: "user", id: userId },
  via,
  ...requestMeta(ctx),
});

export function keyLimitsRoutes(services: Services): Router<KeywardState> {
  const { keys } = services;
  const router = new Router<KeywardState>();

  const keyRefused = async (ctx: RoutedCtx, formError: FormError, status: number) => {
    const key = await keys.get(requireLogin(ctx).id, ctx.params.id!);
    if (!key) throw keyNotFound();
    await sendKeyDetail(ctx, services, key, { formError }, status);
  };

  router.post(`${KEYS_PAGE}/:id/limits`, showErrorsOnForm("limits", keyRefused), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const changes = changesOf(ctx.request.body);
    try {
      const key = await keys.setLimits({ kind: "own", userId: user.id, id: ctx.params.id! }, changes, acting(ctx, user.id, "page"));
      if (!key) throw keyNotFound();
      ctx.status = 303;
      ctx.redirect(`${KEYS_PAGE}/${encodeURIComponent(key.id)}?saved=limits`);
    } catch (err) {
      if (err instanceof KeyInputError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  /** A client this user has no key from is "not found", as on Connected apps' disconnect. */
  const clientOf = async (userId: string, clientId: string) => {
    const own = (await keys.listOAuth(userId)).filter((k) => k.clientId === clientId);
    if (own.length === 0) throw new HttpError(404, "not_found", "No connected app with that client id.");
    return { clientId, name: own[0]!.label.replace(/^OAuth: /, ""), activeKeys: own.filter((k) => k.status === "active").length };
  };

  const clientPage = async (ctx: RoutedCtx, formError: FormError | null = null, status = 200) => {
    const user = requireLogin(ctx);
    const app = await clientOf(user.id, ctx.params.clientId!);
    const limits = await keys.clientLimits(user.id, app.clientId);
    const notice = ctx.query.saved === "limits" ? "Limits saved: the app's keys carry them from the next request." : "";
    await sendPage(ctx, "connected-app-limits", { title: `Limits for ${app.name}`, app, limits, formError, notice }, status);
  };

  router.get(`${APPS_PAGE}/:clientId/limits`, (ctx) => clientPage(ctx));

  router.post(`${APPS_PAGE}/:clientId/limits`, showErrorsOnForm("limits", clientPage), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const app = await clientOf(user.id, ctx.params.clientId!);
    const changes = changesOf(ctx.request.body);
    await keys.setClientLimits(user.id, app.clientId, changes, acting(ctx, user.id, "connected_apps"));
    ctx.status = 303;
    ctx.redirect(`${APPS_PAGE}/${encodeURIComponent(app.clientId)}/limits?saved=limits`);
  });

  return router;
}
