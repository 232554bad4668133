// The account's audit trail: what happened to it, who did it, from where. In words (src/audit/describe.ts),
// a page at a time (?before= walks to older events), narrowed by event kind and by key (?kind=, ?key=).
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import type { AuditEventView, ListOptions } from "../audit/index.js";
import { describeEvent, EVENT_KINDS, type DescribeContext, type DescribedEvent } from "../audit/describe.js";
import { sendPage } from "./render.js";
import { loginUrlFor } from "./require-login.js";

export const AUDIT_PAGE = "/app/account/audit";
export const EVENTS_PER_PAGE = 50;

export interface AuditRow extends AuditEventView, DescribedEvent {}

export function auditRows(events: AuditEventView[], ctx: DescribeContext): AuditRow[] {
  return events.map((e) => ({ ...e, ...describeEvent(e, ctx) }));
}

/** `before`: the time (ms) and id of the last event shown, so the next page starts right after it. */
const CURSOR = /^(\d{1,15})-(evt_[0-9A-Za-z]{1,64})$/;
const encodeCursor = (e: AuditEventView) => `${Date.parse(e.createdAt)}-${e.id}`;

const blank = (v: unknown) => (v === "" ? undefined : v);
const filterQuery = z.object({
  kind: z.preprocess(
    blank,
    z
      .string({ error: "Choose one event kind." })
      .refine((k) => Object.hasOwn(EVENT_KINDS, k), "There is no such event kind: choose one from the list.")
      .optional(),
  ),
  key: z.preprocess(
    blank,
    z
      .string({ error: "Choose one key." })
      .regex(/^key_[0-9A-Za-z]{1,64}$/, "That is not a key id (they look like key_…).")
      .optional(),
  ),
  before: z.preprocess(
    blank,
    z
      .string({ error: "The page link is not valid." })
      .regex(CURSOR, "The link to older events is not valid: start again from the newest.")
      .transform((c) => {
        const [, ms, id] = CURSOR.exec(c)!;
        return { createdAt: new Date(Number(ms)), id: id! };
      })
      .optional(),
  ),
});

/** The page's own link with these filters (and a page position). */
function linkTo(filters: { kind?: string; key?: string }, before?: string): string {
  const q = new URLSearchParams();
  if (filters.kind) q.set("kind", filters.kind);
  if (filters.key) q.set("key", filters.key);
  if (before) q.set("before", before);
  const s = q.toString();
  return s ? `${AUDIT_PAGE}?${s}` : AUDIT_PAGE;
}

export function auditRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();

  const show = async (ctx: Ctx, userId: string, query: ListOptions & { kind?: string; key?: string }, error = "") => {
    const [orgs, keys] = await Promise.all([services.orgs.listForUser(userId), services.keys.page(userId, { limit: 100 })]);
    const describe: DescribeContext = { viewerId: userId, orgNames: new Map(orgs.map((o) => [o.id, o.name])) };
    const found = error ? [] : await services.audit.listForUser(userId, { ...query, limit: EVENTS_PER_PAGE + 1 });
    const events = found.slice(0, EVENTS_PER_PAGE);
    const last = events[events.length - 1];
    const filters = { kind: query.kind, key: query.key };
    await sendPage(
      ctx,
      "audit",
      {
        title: "Account activity",
        events: auditRows(events, describe),
        error,
        filters: { kind: query.kind ?? "", key: query.key ?? "" },
        kinds: Object.entries(EVENT_KINDS).map(([value, label]) => ({ value, label })),
        keys: keys.items.map((k) => ({ id: k.id, label: `${k.label || "Untitled key"} …${k.last4}` })),
        newerLink: query.before ? linkTo(filters) : "",
        olderLink: found.length > EVENTS_PER_PAGE && last ? linkTo(filters, encodeCursor(last)) : "",
        filtered: Boolean(query.kind || query.key),
      },
      error ? 400 : 200,
    );
  };

  router.get(AUDIT_PAGE, async (ctx) => {
    const user = ctx.state.session?.user;
    if (!user) return ctx.redirect(loginUrlFor(ctx));
    const parsed = filterQuery.safeParse(ctx.query);
    if (!parsed.success) return show(ctx, user.id, {}, parsed.error.issues[0]!.message);
    const { kind, key, before } = parsed.data;
    await show(ctx, user.id, { action: kind, kind, key, keyId: key, before });
  });
  return router;
}
