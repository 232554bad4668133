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
import { resolveResources, UnknownResourceError } from "../mcp/resource-choice.js";

const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).optional(), cursor: z.string().max(500).optional() });

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
      const page = await keys.page(userOf(ctx).id, { limit: query.data.limit ?? 100, cursor: query.data.cursor });
      ctx.body = { data: page.items, next_cursor: page.nextCursor };
    } catch (err) {
      if (err instanceof KeyInputError) throw new HttpError(400, "invalid_request", err.message);
      throw err;
    }
  });

  router.post("/", write, parseBody(), async (ctx) => {
    if (!ctx.is("application/json")) throw new HttpError(415, "unsupported_media_type", "Send the body as application/json");
    const input = createBody.parse(ctx.request.body ?? {});
    const scopes = input.scopes ?? [];
    // What this caller may mint: src/keys/mint-policy.ts (its organisation, a subset of its access).
    const decision = decideMint(
      callerOf(ctx),
      { organizationId: input.organizationId, scopes, dpopJkt: input.dpop_jkt },
      services.config.scopeCatalogue,
    );
    if (!decision.ok) throw refusalError(services.config, decision.refusal);
    try {
      const resources = input.resources
        ? await resolveResources(input.resources, { baseUrl: services.config.baseUrl, resources: services.resources })
        : null;
      const minted = await keys.mint(
        {
          userId: userOf(ctx).id,
          label: input.label ?? input.name ?? "",
          scopes,
          organizationId: decision.organizationId,
          dpopJkt: decision.dpopJkt, // RFC 9449: the key then works only with DPoP proofs by that key pair
          resources, // RFC 8707: the key then works only at these
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

  router.get("/:id", read, async (ctx) => {
    const key = await keys.get(userOf(ctx).id, ctx.params.id!);
    if (!key) throw notFound();
    ctx.body = key;
  });

  router.delete("/:id", write, async (ctx) => {
    const [done] = await keys.revoke({ kind: "own", userId: userOf(ctx).id, id: ctx.params.id! }, apiActing(ctx));
    if (!done) throw notFound();
    ctx.body = done.key;
  });

  return router;
}
