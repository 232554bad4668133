// Stale keys on the account pages (issue 28 item 5): "revoke all stale keys" (every active key not
// used for STALE_DAYS days) behind a confirmation page like the bulk revoke's. The confirmation
// lists the keys and sends their ids back; on confirm, only those that are still stale are revoked
// (a key used meanwhile is kept), through THE revoke path.
import { Router } from "@koa/router";
import { STALE_DAYS, type KeyActing } from "../keys/index.js";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { requestMeta } from "../http/request-meta.js";
import { requireCsrf } from "./csrf.js";
import { confirmed, sendConfirmation } from "./confirm.js";
import { requireLogin } from "./require-login.js";
import { bulkIdsInput, MAX_BULK_IDS } from "./key-list.js";

const KEYS_PAGE = "/app/account/api-keys";
export const STALE_PATH = `${KEYS_PAGE}/revoke-stale`;

const pageActing = (ctx: Ctx, userId: string): KeyActing => ({ actor: { type: "user", id: userId }, via: "page", ...requestMeta(ctx) });

export function staleKeysRoutes(
  services: Services,
  options: { listPage: (ctx: Ctx, userId: string, error: string) => Promise<void> },
): Router<KeywardState> {
  const { keys } = services;
  const router = new Router<KeywardState>();

  /**
   * The stale keys now, after this server's pending last-used times are written (as the JSON API
   * does); at most a bulk revoke's worth (the oldest first): any left are offered again afterwards.
   */
  const staleKeys = async (userId: string) => {
    await keys.tracker.flush();
    return (await keys.unusedKeys(userId, STALE_DAYS, new Date())).slice(0, MAX_BULK_IDS);
  };

  const confirmStale = async (ctx: Ctx, userId: string) => {
    const stale = await staleKeys(userId);
    if (stale.length === 0) return options.listPage(ctx, userId, `No key is unused for ${STALE_DAYS} days.`);
    const n = stale.length;
    await sendConfirmation(ctx, {
      question: n === 1 ? "Revoke the stale key?" : `Revoke all ${n} stale keys?`,
      consequences: [
        `${n === 1 ? "This key has" : "These keys have"} not been used for ${STALE_DAYS} days:`,
        ...stale.map(
          (k) => `“${k.label}” ending in ${k.last4} (${k.sourceLabel}), last used ${k.lastUsedAt ? k.lastUsedAt.slice(0, 10) : "never"}`,
        ),
        `${n === 1 ? "It stops" : "They stop"} working on the next request. This cannot be undone.`,
      ],
      action: STALE_PATH,
      confirmLabel: n === 1 ? "Yes, revoke this key" : `Yes, revoke ${n} keys`,
      cancelHref: KEYS_PAGE,
      fields: { ids: stale.map((k) => k.id).join(",") },
    });
  };

  router.get(STALE_PATH, async (ctx) => confirmStale(ctx, requireLogin(ctx).id));

  router.post(STALE_PATH, requireCsrf, async (ctx) => {
    const user = requireLogin(ctx);
    if (!confirmed(ctx)) return confirmStale(ctx, user.id);
    const shown = new Set(bulkIdsInput(ctx.request.body));
    const still = (await staleKeys(user.id)).filter((k) => shown.has(k.id));
    ctx.status = 303;
    if (still.length === 0) return ctx.redirect(`${KEYS_PAGE}?staleNone=1`);
    const done = await keys.revoke({ kind: "ownMany", userId: user.id, ids: still.map((k) => k.id) }, pageActing(ctx, user.id));
    ctx.redirect(`${KEYS_PAGE}?revokedCount=${done.filter((d) => d.wasActive).length}`);
  });

  return router;
}
