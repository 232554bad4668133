// JSON API for scripts: /api/api-keys. The raw key appears only in the POST response.
import { Router } from "@koa/router";
import { z } from "zod";
import { KeyInputError } from "../keys/index.js";
import { dpopJktSchema, labelSchema, scopesSchema } from "../keys/input.js";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { parseBody } from "../http/body.js";
import { apiAuth, callerOf, requireScope } from "./auth.js";
import { refusalError } from "../http/insufficient-scope.js";
import { decideMint } from "../keys/mint-policy.js";
import { requestMeta } from "../http/request-meta.js";
import type { KeyActing } from "../keys/index.js";
import { MAX_LABEL_LENGTH } from "../keys/input.js";
import { KEY_SOURCES } from "../keys/view.js";
import { MAX_BULK_REVOKE } from "../keys/revoke.js";
import { resolveResources, UnknownResourceError } from "../resources/choice.js";
import { allowlistSchema, rateLimitSchema } from "../keys/limits/input.js";
import { decideMintLimits, limitChangeRefusal, rollLimitsRefusal } from "../keys/limits/policy.js";
import { parseExpiry } from "../keys/expiry.js";
import { ROLL_OVERLAP_NAMES } from "../keys/index.js";
import { rollError, rollInput } from "../orgs/actions.js";

const requireJson = (ctx: Ctx) => {
  if (!ctx.is("application/json")) throw new HttpError(415, "unsupported_media_type", "Send the body as application/json");
};
const invalid = (error: z.ZodError) =>
  new HttpError(400, "invalid_request", error.issues.map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`).join("; "));

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(500).optional(),
  q: z.string().max(MAX_LABEL_LENGTH).optional(),
  status: z.enum(["active", "revoked", "expired"]).optional(),
  source: z.enum(KEY_SOURCES).optional(),
  /** A slug or URL: the keys that work at that resource (bound to it, or to every resource). */
  resource: z.string().max(500).optional(),
});

/** A new label and/or new limits (issue 28): absent = unchanged; null limits are removed. */
const patchBody = z
  .object({
    label: z.string().max(10_000).optional(),
    allowedIps: allowlistSchema.nullable().optional(),
    rateLimit: rateLimitSchema.nullable().optional(),
  })
  .strict()
  .refine((b) => b.label !== undefined || b.allowedIps !== undefined || b.rateLimit !== undefined, "give label, allowedIps or rateLimit");

/** Bulk revoke: the ids, or every key unused for `unused_days` days; `dry_run` lists without revoking. */
const bulkRevokeBody = z
  .object({
    ids: z.array(z.string().max(100)).min(1).max(MAX_BULK_REVOKE).optional(),
    unused_days: z.number().int().min(1).max(36_500).optional(),
    dry_run: z.boolean().optional(),
  })
  .strict()
  .refine((b) => (b.ids === undefined) !== (b.unused_days === undefined), "give either ids or unused_days");

const createBody = z
  .object({
    label: labelSchema.optional(),
    name: labelSchema.optional(),
    scopes: scopesSchema.optional(),
    organizationId: z.string().min(1).max(100).optional(),
    dpop_jkt: dpopJktSchema.optional(),
    /** Slugs ("mcp": Keyward's own) or URLs; absent or null: every resource. */
    resources: z
      .array(z.string().max(500))
      .min(1, "Name at least one resource, or leave resources out for every resource")
      .max(20)
      .nullable()
      .optional(),
    /** IP allowlist: CIDR ranges (a list, or one string separated by spaces or commas); absent or null: any address. */
    allowedIps: allowlistSchema.nullable().optional(),
    /** Requests per minute at /mcp and the gateway; absent or null: no limit. */
    rateLimit: rateLimitSchema.nullable().optional(),
    /** never (the default), `<n>d`, a date YYYY-MM-DD or an ISO 8601 time (src/keys/expiry.ts); capped by the organisation's policy. */
    expires: z.string().max(100).optional(),
  })
  .strict();

/** Same status, headers and body for a missing id and another user's id. */
const notFound = () => new HttpError(404, "not_found", "No API key with that id.");

const userOf = (ctx: Ctx) => {
  const user = ctx.state.auth?.user;
  if (!user) throw new HttpError(401, "unauthorized", "This API acts for a user: use a user's key or a session");
  return user;
};

/** Who called the API: the key it authenticated with, or the logged-in user (session). */
const apiActing = (ctx: Ctx): KeyActing => {
  const auth = ctx.state.auth;
  const actor =
    auth && auth.via !== "session" ? { type: "api_key" as const, id: auth.key.id } : { type: "user" as const, id: auth?.user.id ?? null };
  return { actor, via: "api", ...requestMeta(ctx) };
};

export function apiKeysApi(services: Services): Router<KeywardState> {
  const { keys } = services;
  const router = new Router<KeywardState>({ prefix: "/api/api-keys" });
  router.use(async (ctx, next) => {
    ctx.set("Cache-Control", "no-store");
    await next();
  });
  router.use(apiAuth(services));

  // Newest first, `limit` (1–500, default 100) per page; follow `next_cursor` for older keys.
  const read = requireScope(services, "keys:read");
  const write = requireScope(services, "keys:write");

  router.get("/", read, async (ctx) => {
    const query = listQuery.safeParse(ctx.query);
    if (!query.success)
      throw new HttpError(400, "invalid_request", query.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    try {
      const { limit, cursor, resource, ...rest } = query.data;
      const sources = { baseUrl: services.config.baseUrl, resources: services.resources };
      const filter = { ...rest, ...(resource ? { resource: (await resolveResources([resource], sources))[0] } : {}) };
      const page = await keys.page(userOf(ctx).id, { limit: limit ?? 100, cursor, filter });
      ctx.body = { data: page.items, next_cursor: page.nextCursor };
    } catch (err) {
      if (err instanceof KeyInputError || err instanceof UnknownResourceError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  router.post("/", write, parseBody(), async (ctx) => {
    if (!ctx.is("application/json")) throw new HttpError(415, "unsupported_media_type", "Send the body as application/json");
    const parsedBody = createBody.safeParse(ctx.request.body ?? {});
    if (!parsedBody.success) throw invalid(parsedBody.error);
    const input = parsedBody.data;
    const scopes = input.scopes ?? [];
    // What this caller may mint: src/keys/mint-policy.ts (its organisation, a subset of its access).
    const decision = decideMint(
      callerOf(ctx),
      { organizationId: input.organizationId, scopes, dpopJkt: input.dpop_jkt },
      services.config.scopeCatalogue,
    );
    if (!decision.ok) throw refusalError(services.config, decision.refusal);
    // A key with limits mints only keys as limited (src/keys/limits/policy.ts).
    const limits = decideMintLimits(callerOf(ctx), { allowedIps: input.allowedIps, rateLimit: input.rateLimit });
    if (!limits.ok) throw new HttpError(403, "insufficient_scope", limits.description);
    try {
      const resources = input.resources
        ? await resolveResources(input.resources, { baseUrl: services.config.baseUrl, resources: services.resources })
        : null;
      const asked = parseExpiry(input.expires ?? "never");
      const minted = await keys.mint(
        {
          userId: userOf(ctx).id,
          expiresAt: asked.never ? null : asked.at,
          label: input.label ?? input.name ?? "",
          scopes,
          organizationId: decision.organizationId,
          dpopJkt: decision.dpopJkt, // RFC 9449: the key then works only with DPoP proofs by that key pair
          resources, // RFC 8707: the key then works only at these
          allowedIps: limits.allowedIps,
          rateLimit: limits.rateLimit,
          source: "portal",
        },
        apiActing(ctx),
      );
      ctx.status = 201;
      ctx.set("Location", `/api/api-keys/${minted.key.id}`);
      ctx.body = { ...minted.key, key: minted.raw };
    } catch (err) {
      if (err instanceof KeyInputError || err instanceof UnknownResourceError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  // Bulk revoke, all or nothing: any id that is missing or another user's is the same 404 as one
  // missing id, and nothing is revoked. `unused_days`: keys created before then and not used since
  // (this server's pending last-used times are written first).
  router.post("/revoke", write, parseBody(), async (ctx) => {
    requireJson(ctx);
    const input = bulkRevokeBody.safeParse(ctx.request.body ?? {});
    if (!input.success) throw invalid(input.error);
    const userId = userOf(ctx).id;
    const dryRun = input.data.dry_run === true;
    if (input.data.ids) {
      const selected = await keys.getMany(userId, input.data.ids);
      if (!selected) throw notFound();
      if (dryRun) {
        ctx.body = { data: selected.filter((k) => k.status === "active"), dry_run: true };
        return;
      }
      const done = await keys.revoke({ kind: "ownMany", userId, ids: selected.map((k) => k.id) }, apiActing(ctx));
      ctx.body = { data: done.filter((d) => d.wasActive).map((d) => d.key), dry_run: false };
      return;
    }
    const days = input.data.unused_days!;
    await keys.tracker.flush();
    const now = new Date();
    if (dryRun) {
      ctx.body = { data: await keys.unusedKeys(userId, days, now), dry_run: true };
      return;
    }
    const done = await keys.revoke({ kind: "ownUnused", userId, days, now }, apiActing(ctx));
    ctx.body = { data: done.filter((d) => d.wasActive).map((d) => d.key), dry_run: false };
  });

  router.patch("/:id", write, parseBody(), async (ctx) => {
    requireJson(ctx);
    const input = patchBody.safeParse(ctx.request.body ?? {});
    if (!input.success) throw invalid(input.error);
    const { label, allowedIps, rateLimit } = input.data;
    const userId = userOf(ctx).id;
    const id = ctx.params.id!;
    const changesLimits = allowedIps !== undefined || rateLimit !== undefined;
    if (changesLimits) {
      const refusal = limitChangeRefusal(callerOf(ctx));
      if (refusal) throw new HttpError(403, "insufficient_scope", refusal);
    }
    try {
      // Checked first, so that a missing id changes nothing and answers the same 404 whatever was asked.
      if (!(await keys.get(userId, id))) throw notFound();
      let key = label !== undefined ? await keys.rename(userId, id, label, apiActing(ctx)) : null;
      if (changesLimits) key = await keys.setLimits({ kind: "own", userId, id }, { allowedIps, rateLimit }, apiActing(ctx));
      if (!key) throw notFound();
      ctx.body = key;
    } catch (err) {
      if (err instanceof KeyInputError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  router.get("/:id", read, async (ctx) => {
    const key = await keys.get(userOf(ctx).id, ctx.params.id!);
    if (!key) throw notFound();
    ctx.body = key;
  });

  // Usage (issue 28): the last 30 days per day and per hour, errors apart (src/keys/usage/read.ts).
  // Another user's id: the same 404 as a missing one.
  router.get("/:id/usage", read, async (ctx) => {
    const key = await keys.get(userOf(ctx).id, ctx.params.id!);
    if (!key) throw notFound();
    ctx.body = { key_id: key.id, ...(await keys.usage.forKeys([key.id])) };
  });

  // Roll (src/keys/roll.ts): the replacement is revealed in this response only; the old key works until
  // the overlap ends. The caller must be able to mint the replacement (src/keys/mint-policy.ts).
  router.post("/:id/roll", write, parseBody(), async (ctx) => {
    requireJson(ctx);
    const input = rollInput.safeParse(ctx.request.body ?? {});
    if (!input.success) throw new HttpError(400, "invalid_request", `overlap must be one of ${ROLL_OVERLAP_NAMES.join(", ")}`);
    const userId = userOf(ctx).id;
    const key = await keys.get(userId, ctx.params.id!);
    if (!key) throw notFound();
    const decision = decideMint(
      callerOf(ctx),
      { organizationId: key.organizationId ?? undefined, scopes: key.scopes, dpopJkt: key.dpopJkt },
      services.config.scopeCatalogue,
    );
    if (!decision.ok) throw refusalError(services.config, decision.refusal);
    const limitsRefused = rollLimitsRefusal(callerOf(ctx), key);
    if (limitsRefused) throw new HttpError(403, "insufficient_scope", limitsRefused);
    const rolled = await keys
      .roll({ kind: "own", userId, id: key.id }, input.data.overlap, apiActing(ctx))
      .catch((e: unknown) => Promise.reject(rollError(e)));
    if (!rolled) throw notFound();
    ctx.status = 201;
    ctx.set("Location", `/api/api-keys/${rolled.key.id}`);
    ctx.body = { ...rolled.key, key: rolled.raw, replaces: rolled.old };
  });

  router.delete("/:id", write, async (ctx) => {
    const [done] = await keys.revoke({ kind: "own", userId: userOf(ctx).id, id: ctx.params.id! }, apiActing(ctx));
    if (!done) throw notFound();
    ctx.body = done.key;
  });

  return router;
}
