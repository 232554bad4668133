// The account page for API keys: mint (with a one-shot reveal), list, revoke with confirmation.
// Minting answers with a redirect to a one-time reveal URL (./one-time-reveal.ts): reloading the
// page that shows the new key neither mints again nor shows the key again.
import { Router } from "@koa/router";
import { z } from "zod";
import { isRollOverlap, KeyInputError, RollRefusedError, type KeyActing, type KeyView } from "../keys/index.js";
import { daysLeftToWarn, parseExpiry } from "../keys/expiry.js";
import type { KeyFilter } from "../keys/store.js";
import { labelSchema, scopesSchema } from "../keys/input.js";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "./csrf.js";
import { sendPage } from "./render.js";
import { endOnRedirect, requireLogin } from "./require-login.js";
import { allHostSnippets } from "../mcp/host-configs.js";
import { requestMeta } from "../http/request-meta.js";
import { MANAGEMENT_DESCRIPTIONS, MANAGEMENT_SCOPES } from "../scopes/management.js";
import { createOneTimeReveals } from "./one-time-reveal.js";
import { confirmed, sendConfirmation } from "./confirm.js";
import { showErrorsOnForm, type FormError, type RoutedCtx } from "./form-error.js";
import { bulkIdsInput, filterOfQuery, filterQueryString, lastUsedNote, renameForm } from "./key-list.js";
import { resolveResources, resourceChoices, resourcesText, UnknownResourceError } from "../resources/choice.js";
import { sendKeyDetail } from "./key-detail.js";
import { staleKeysRoutes } from "./stale-keys-routes.js";
import { isStale, STALE_DAYS } from "../keys/index.js";

export const KEYS_PAGE = "/app/account/api-keys";
export const KEYS_PER_PAGE = 50;
export const revealUrl = (token: string) => `${KEYS_PAGE}/reveal/${token}`;

const mintForm = z.object({
  label: z.string().max(1000).default(""),
  scopes: z.union([z.string(), z.array(z.string())]).optional(),
  organizationId: z.string().max(100).optional(),
  // "all" (the default, like a classic GitHub token) or "some": the ticked `resources` (slugs, "mcp" for the built-in).
  resourceMode: z.enum(["all", "some"]).default("all"),
  resources: z.union([z.string().max(500), z.array(z.string().max(500)).max(100)]).optional(),
  // Issue 28: never, 7d/30d/90d, or "date" with expiresDate (YYYY-MM-DD); src/keys/expiry.ts.
  expires: z.string().max(20).default("never"),
  expiresDate: z.string().max(20).default(""),
});
const rollForm = z.object({ overlap: z.string().max(10).default("") });

const notFound = () => new HttpError(404, "not_found", "No API key with that id.");

/** The signed-in user, on this page. */
const pageActing = (ctx: Ctx, userId: string): KeyActing => ({ actor: { type: "user", id: userId }, via: "page", ...requestMeta(ctx) });

export function mcpJson(baseUrl: string): string {
  return JSON.stringify(
    { mcpServers: { keyward: { type: "http", url: `${baseUrl}/mcp`, headers: { Authorization: "Bearer ${KEYWARD_API_KEY}" } } } },
    null,
    2,
  );
}

export function apiKeysPageRoutes(services: Services): Router<KeywardState> {
  const { keys, config } = services;
  const router = new Router<KeywardState>();
  const reveals = createOneTimeReveals(services.db);

  router.use(endOnRedirect);

  const page = async (
    ctx: Ctx,
    userId: string,
    extra: {
      revealed?: { raw: string; key: KeyView };
      error?: string;
      notice?: string;
      form?: {
        label: string;
        scopes: string[];
        resourceMode?: "all" | "some";
        resources?: string[];
        expires?: string;
        expiresDate?: string;
      };
      organizationId?: string;
    },
    status = 200,
  ) => {
    // Newest keys first, a page at a time; ?cursor= walks to older ones. A cursor we did not make
    // starts again from the newest. Search and filters (?q=, ?status=, ?source=, ?resource=) narrow the
    // query itself, so every page is a page of the filtered list (src/keys/store.ts).
    const choices = await resourceChoices({ baseUrl: config.baseUrl, resources: services.resources });
    const filter: KeyFilter = filterOfQuery(ctx.query, choices);
    const filtered = Boolean(filter.q || filter.status || filter.source || filter.resource);
    const cursor = typeof ctx.query.cursor === "string" ? ctx.query.cursor : undefined;
    const list = await keys.page(userId, { limit: KEYS_PER_PAGE, cursor, filter }).catch((err: unknown) => {
      if (err instanceof KeyInputError) return keys.page(userId, { limit: KEYS_PER_PAGE, filter });
      throw err;
    });
    const [count, matching] = await Promise.all([keys.count(userId), filtered ? keys.count(userId, filter) : null]);
    const now = new Date();
    // "Not used for 90 days" (src/keys/usage/stale.ts): highlighted rows, and one action for all of them.
    // (the views carry this server's pending last-used times: a key it just saw used is not counted)
    const staleCount = (await keys.unusedKeys(userId, STALE_DAYS, now)).filter((k) => isStale(k, now)).length;
    await sendPage(
      ctx,
      "api-keys",
      {
        title: "API keys",
        keys: list.items,
        nextCursor: list.nextCursor,
        firstPage: !cursor,
        filter: {
          q: filter.q ?? "",
          status: filter.status ?? "",
          source: filter.source ?? "",
          resource: choices.find((c) => c.url === filter.resource)?.slug ?? "",
        },
        filterQuery: filterQueryString(filter, choices),
        filtered,
        count,
        matching,
        lastUsedNote: lastUsedNote(config.lastUsedFlushMs),
        isStale: (k: KeyView) => isStale(k, now),
        staleDays: STALE_DAYS,
        staleCount,
        revealed: extra.revealed ?? null,
        error: extra.error ?? "",
        notice: extra.notice ?? "",
        form: { resourceMode: "all", resources: [], ...(extra.form ?? { label: "", scopes: [] }) },
        resourceChoices: choices,
        daysLeft: (expiresAt: string | null) => daysLeftToWarn(expiresAt),
        resourcesText: (bound: string[] | null) => resourcesText(bound, choices),
        scopeCatalogue: config.scopes,
        scopeDefinitions: config.scopeCatalogue,
        managementScopes: MANAGEMENT_SCOPES.map((name) => ({ name, description: MANAGEMENT_DESCRIPTIONS[name] })),
        organizations: await services.orgs.listForUser(userId),
        organizationId: extra.organizationId ?? "",
        keyPrefix: config.keyPrefix,
        baseUrl: config.baseUrl,
        mcpJson: mcpJson(config.baseUrl),
        hostConfigs: allHostSnippets(config.baseUrl),
      },
      status,
    );
  };

  router.get(KEYS_PAGE, async (ctx) => {
    const user = requireLogin(ctx);
    let notice = "";
    if (typeof ctx.query.revoked === "string") {
      const k = await keys.get(user.id, ctx.query.revoked);
      if (k) notice = `The key “${k.label}” ending in ${k.last4} was revoked. It no longer works.`;
    }
    if (typeof ctx.query.renamed === "string") {
      const k = await keys.get(user.id, ctx.query.renamed);
      if (k) notice = `The key ending in ${k.last4} is now called “${k.label}”.`;
    }
    if (ctx.query.staleNone === "1") notice = `No key is unused for ${STALE_DAYS} days any more: nothing was revoked.`;
    if (typeof ctx.query.revokedCount === "string" && /^\d{1,4}$/.test(ctx.query.revokedCount)) {
      const n = Number(ctx.query.revokedCount);
      notice = `${n} ${n === 1 ? "key was" : "keys were"} revoked. ${n === 1 ? "It no longer works" : "They no longer work"}.`;
    }
    await page(ctx, user.id, { notice });
  });

  router.post(KEYS_PAGE, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const form = mintForm.parse(ctx.request.body ?? {});
    const label = labelSchema.safeParse(form.label);
    const scopes = scopesSchema.safeParse(form.scopes ?? []);
    const asked = form.resourceMode === "some" ? [form.resources ?? []].flat() : [];
    const kept = {
      label: form.label.slice(0, 100),
      scopes: scopes.success ? scopes.data : [],
      resourceMode: form.resourceMode,
      resources: asked,
      expires: form.expires,
      expiresDate: form.expiresDate.slice(0, 10),
    };
    if (!label.success) return page(ctx, user.id, { error: label.error.issues[0]!.message, form: kept }, 400);
    if (!scopes.success) return page(ctx, user.id, { error: scopes.error.issues[0]!.message, form: kept }, 400);
    if (form.resourceMode === "some" && asked.length === 0)
      return page(ctx, user.id, { error: "Tick at least one resource, or choose “All resources”.", form: kept }, 400);
    // Ticked resources under "All resources" would give a wider key than the ticks say: ask, never guess.
    if (form.resourceMode === "all" && [form.resources ?? []].flat().length > 0) {
      const ticked = { ...kept, resources: [form.resources ?? []].flat() };
      return page(
        ctx,
        user.id,
        { error: "You ticked resources but chose “All resources”: choose “Only the ticked resources”, or untick them.", form: ticked },
        400,
      );
    }
    try {
      // Any organisation the user is not a member of (or that does not exist) is refused the same way.
      const organizationId = form.organizationId || undefined;
      // null: every resource; else the URLs of the ticked ones (a name that is no resource is refused)
      const resources =
        form.resourceMode === "some" ? await resolveResources(asked, { baseUrl: config.baseUrl, resources: services.resources }) : null;
      if (form.expires === "date" && !form.expiresDate)
        return page(ctx, user.id, { error: "Pick the date the key expires.", form: kept }, 400);
      const expiry = parseExpiry(form.expires === "date" ? form.expiresDate : form.expires);
      const expiresAt = expiry.never ? null : expiry.at;
      const minted = await keys.mint(
        { userId: user.id, label: label.data, scopes: scopes.data, source: "portal", organizationId, resources, expiresAt },
        pageActing(ctx, user.id),
      );
      const token = await reveals.hold(ctx.state.session!.token, "api_key", { raw: minted.raw, keyId: minted.key.id });
      ctx.status = 303;
      ctx.redirect(revealUrl(token));
    } catch (err) {
      if (err instanceof KeyInputError || err instanceof UnknownResourceError)
        return page(ctx, user.id, { error: err.message, form: kept }, 400);
      throw err;
    }
  });

  // The only response that ever contains the raw key: the first view of the reveal URL, never cached.
  router.get(`${KEYS_PAGE}/reveal/:token`, async (ctx) => {
    const user = requireLogin(ctx);
    const held = await reveals.take(ctx.state.session!.token, "api_key", ctx.params.token!);
    const key = held ? await keys.get(user.id, held.keyId) : null;
    if (!held || !key) {
      return sendPage(
        ctx,
        "reveal-gone",
        { title: "Key already shown", what: "key", back: KEYS_PAGE, backLabel: "Back to your API keys" },
        410,
      );
    }
    await page(ctx, user.id, { revealed: { raw: held.raw, key } });
  });

  // Usage (issue 28 item 5): "revoke all stale keys" (./stale-keys-routes.ts), before /:id would take its path.
  router.use(staleKeysRoutes(services, { listPage: (ctx, userId, error) => page(ctx, userId, { error }, 400) }).routes());

  // The key detail page (src/web/key-detail.ts): its facts, expiry and Roll, limits, usage;
  // revoked and expired keys too; another user's id is a missing id.
  router.get(`${KEYS_PAGE}/:id`, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw notFound();
    const notice = ctx.query.saved === "limits" ? "Limits saved: they hold from the next request, on every instance." : "";
    await sendKeyDetail(ctx, services, key, { notice });
  });

  // Roll: the replacement is revealed once, like any mint; the old key ends after the chosen overlap.
  router.post(`${KEYS_PAGE}/:id/roll`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw notFound();
    const refused = (error: string, status: number) => sendKeyDetail(ctx, services, key, { error }, status);
    const { overlap } = rollForm.parse(ctx.request.body ?? {});
    if (!isRollOverlap(overlap)) return refused("Choose an overlap: none, 1 hour, 24 hours or 7 days.", 400);
    try {
      const rolled = await keys.roll({ kind: "own", userId: user.id, id: key.id }, overlap, pageActing(ctx, user.id));
      if (!rolled) throw notFound();
      const token = await reveals.hold(ctx.state.session!.token, "api_key", { raw: rolled.raw, keyId: rolled.key.id });
      ctx.status = 303;
      ctx.redirect(revealUrl(token));
    } catch (err) {
      if (err instanceof RollRefusedError) return refused(err.message, err.status);
      if (err instanceof KeyInputError) return refused(err.message, 400);
      throw err;
    }
  });

  // The confirmation page for browsers without JavaScript (with it, a dialog asks instead).
  router.get(`${KEYS_PAGE}/:id/revoke`, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw notFound();
    await sendPage(ctx, "revoke-confirm", { title: "Revoke API key", key });
  });

  router.post(`${KEYS_PAGE}/:id/revoke`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const [done] = await keys.revoke({ kind: "own", userId: user.id, id: ctx.params.id! }, pageActing(ctx, user.id));
    if (!done) throw notFound();
    ctx.status = 303;
    ctx.redirect(`${KEYS_PAGE}?revoked=${encodeURIComponent(done.key.id)}`);
  });

  // Rename: a page with one field (no JavaScript needed); a refused label or a stale form shows the
  // same page again with the message and the input kept.
  const renamePage = async (ctx: RoutedCtx, key: KeyView, label: string, error = "", status = 200) =>
    sendPage(ctx, "api-key-rename", { title: "Rename API key", key, label, error }, status);

  router.get(`${KEYS_PAGE}/:id/rename`, async (ctx) => {
    const user = requireLogin(ctx);
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw notFound();
    await renamePage(ctx, key, key.label);
  });

  const renameRefused = async (ctx: RoutedCtx, error: FormError, status: number) => {
    const user = requireLogin(ctx);
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw notFound();
    await renamePage(ctx, key, (error.input.label ?? key.label).slice(0, 100), error.message, status);
  };

  router.post(`${KEYS_PAGE}/:id/rename`, showErrorsOnForm("rename", renameRefused), requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const form = renameForm.parse(ctx.request.body ?? {});
    try {
      const key = await keys.rename(user.id, ctx.params.id!, form.label, pageActing(ctx, user.id));
      if (!key) throw notFound();
      ctx.status = 303;
      ctx.redirect(`${KEYS_PAGE}?renamed=${encodeURIComponent(key.id)}`);
    } catch (err) {
      if (err instanceof KeyInputError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  // Bulk revoke: the list's checkboxes post their ids here; the confirmation page (Cancel first and
  // focused) sends them again with confirm=yes. Any id that is missing or another user's: the same
  // 404 as one missing key, and nothing is revoked.
  router.post(`${KEYS_PAGE}/revoke-selected`, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    const ids = bulkIdsInput(ctx.request.body);
    if (ids.length === 0) return page(ctx, user.id, { error: "Select at least one key to revoke." }, 400);
    const selected = await keys.getMany(user.id, ids);
    if (!selected) throw notFound();
    const active = selected.filter((k) => k.status === "active");
    if (active.length === 0) return page(ctx, user.id, { error: "The selected keys are already revoked." }, 400);
    if (!confirmed(ctx)) {
      const n = active.length;
      return sendConfirmation(ctx, {
        question: n === 1 ? "Revoke this key?" : `Revoke these ${n} keys?`,
        consequences: [
          ...active.map((k) => `“${k.label}” ending in ${k.last4} (${k.sourceLabel})`),
          `${n === 1 ? "It stops" : "They stop"} working on the next request. This cannot be undone.`,
        ],
        action: `${KEYS_PAGE}/revoke-selected`,
        confirmLabel: n === 1 ? "Yes, revoke this key" : `Yes, revoke ${n} keys`,
        cancelHref: KEYS_PAGE,
        fields: { ids: active.map((k) => k.id).join(",") },
      });
    }
    const done = await keys.revoke({ kind: "ownMany", userId: user.id, ids: active.map((k) => k.id) }, pageActing(ctx, user.id));
    ctx.status = 303;
    ctx.redirect(`${KEYS_PAGE}?revokedCount=${done.filter((d) => d.wasActive).length}`);
  });

  return router;
}
