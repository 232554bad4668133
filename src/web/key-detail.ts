// The key detail page (/app/account/api-keys/:id): one of the user's own keys, active or revoked,
// with a section per feature of issue 28 (views/api-key.ejs includes each feature's partial).
// Another user's id and a missing id get the same 404.
import { isStale, STALE_DAYS, USAGE_DAYS, type KeyView } from "../keys/index.js";
import { usageChart } from "./usage-chart.js";
import { daysLeftToWarn } from "../keys/expiry.js";
import { lastUsedInterval } from "./key-list.js";
import type { Services } from "../services.js";
import type { Ctx } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { sendPage } from "./render.js";
import type { FormError } from "./form-error.js";
import { resourceChoices, resourcesText } from "../resources/choice.js";

/** The overlaps the Roll button offers, in words. */
const ROLL_CHOICES = [
  ["now", "None: the old key stops now"],
  ["1h", "1 hour"],
  ["24h", "24 hours"],
  ["7d", "7 days"],
] as const;

export const keyNotFound = () => new HttpError(404, "not_found", "No API key with that id.");

export interface KeyDetailExtra {
  /** A refused form on the page, shown next to it with what was sent. */
  formError?: FormError | null;
  notice?: string;
  /** A refused action (a roll), in words, at the top of the page. */
  error?: string;
}

export async function sendKeyDetail(ctx: Ctx, services: Services, key: KeyView, extra: KeyDetailExtra = {}, status = 200): Promise<void> {
  const choices = await resourceChoices({ baseUrl: services.config.baseUrl, resources: services.resources });
  const now = new Date();
  await sendPage(
    ctx,
    "api-key",
    {
      title: `API key “${key.label}”`,
      key,
      resourcesText: resourcesText(key.resources, choices),
      formError: extra.formError ?? null,
      notice: extra.notice ?? "",
      error: extra.error ?? "",
      // Expiry and rolling (views/key-expiry.ejs)
      daysLeft: key.status === "active" ? daysLeftToWarn(key.expiresAt) : null,
      rollOverlaps: ROLL_CHOICES,
      // Usage (views/key-usage.ejs)
      usage: usageChart("key-usage", `the key “${key.label}” ending in ${key.last4}`, await services.keys.usage.forKeys([key.id], now)),
      usageDays: USAGE_DAYS,
      stale: isStale(key, now),
      staleDays: STALE_DAYS,
      flushNote: lastUsedInterval(services.config.lastUsedFlushMs),
    },
    status,
  );
}
