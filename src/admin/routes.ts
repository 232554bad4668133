// The admin pages (docs/operators.md): users (search, detail, disable/enable, 2FA reset, admin role),
// OAuth clients (block/unblock), resources and the instance-wide audit trail. Every route checks
// requireAdmin first (others get the plain 404), every form the CSRF token; ejs escapes every value.
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { requireCsrf } from "../web/csrf.js";
import { sendPage } from "../web/render.js";
import { requestMeta } from "../http/request-meta.js";
import { HttpError } from "../http/errors.js";
import { EVENT_KINDS } from "../audit/describe.js";
import { AdminError, createOperators, type AdminActing } from "./operators.js";
import { notFound, requireAdmin } from "./require-admin.js";
import { listIdentities } from "../upstream-login/identities.js";

const USER_ID = /^usr_[0-9a-f]{32}$/;
const CLIENT_ID = /^[\x21-\x7e]{1,300}$/;
const CURSOR = /^(\d{1,15})-(evt_[0-9A-Za-z]{1,64})$/;

const blank = (v: unknown) => (v === "" || v === undefined ? undefined : v);
const pageNumber = z.preprocess(blank, z.coerce.number().int().min(1).max(100_000).optional());
const day = z.preprocess(blank, z.iso.date({ error: "Dates are YYYY-MM-DD." }).optional());
const usersQuery = z.object({ q: z.preprocess(blank, z.string().max(254).optional()), page: pageNumber });
const auditQuery = z.object({
  action: z.preprocess(blank, z.string().max(100).optional()),
  user: z.preprocess(blank, z.string().max(254).optional()),
  from: day,
  to: day,
  before: z.preprocess(blank, z.string().regex(CURSOR, "That is not a page of the trail.").optional()),
});

export function adminRoutes(services: Services): Router<KeywardState> {
  const operators = createOperators(services.db, services.audit);
  const router = new Router<KeywardState>();
  const admin = requireAdmin(operators);
  const acting = (ctx: Ctx): AdminActing => ({ actor: { type: "user", id: ctx.state.session!.user.id }, ...requestMeta(ctx) });
  const query = <T>(schema: z.ZodType<T>, ctx: Ctx): T => {
    const parsed = schema.safeParse(ctx.query);
    if (!parsed.success) throw new HttpError(400, "invalid_request", parsed.error.issues[0]?.message ?? "invalid query");
    return parsed.data;
  };
  const userParam = (ctx: Ctx) => {
    const id = ctx.params.id ?? "";
    if (!USER_ID.test(id)) throw notFound();
    return id;
  };
  /** A missing user or client answers as a missing page; a refused change as a 400 with its reason. */
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AdminError) throw err.code === "not_found" ? notFound() : new HttpError(400, err.code, err.message);
      throw err;
    }
  };

  router.get("/admin", admin, (ctx) => {
    ctx.status = 303;
    ctx.redirect("/admin/users");
  });

  router.get("/admin/users", admin, async (ctx) => {
    const { q, page = 1 } = query(usersQuery, ctx);
    const { users, more } = await operators.listUsers({ q, page });
    await sendPage(ctx, "admin-users", { title: "Admin: users", q: q ?? "", page, more, users });
  });

  router.get("/admin/users/:id", admin, async (ctx) => {
    const detail = await operators.userDetail(userParam(ctx));
    if (!detail) throw notFound();
    await sendPage(ctx, "admin-user", {
      title: `Admin: ${detail.user.email}`,
      ...detail,
      identities: await listIdentities(services.db, services.config.upstreamProviders, detail.user.id),
      self: detail.user.id === ctx.state.session!.user.id,
    });
  });

  const userAction = (path: string, fn: (id: string, by: AdminActing) => Promise<unknown>) =>
    router.post(`/admin/users/:id/${path}`, admin, requireCsrf, async (ctx) => {
      const id = userParam(ctx);
      await run(() => fn(id, acting(ctx)));
      ctx.status = 303;
      ctx.redirect(`/admin/users/${id}`);
    });
  userAction("disable", (id, by) => operators.disable(id, by));
  userAction("enable", (id, by) => operators.enable(id, by));
  userAction("reset-2fa", (id, by) => operators.resetTwoFactor(id, by));
  userAction("grant-admin", (id, by) => operators.grant(id, by));
  userAction("revoke-admin", (id, by) => operators.revoke(id, by));

  router.get("/admin/clients", admin, async (ctx) => {
    const { page = 1 } = query(z.object({ page: pageNumber }), ctx);
    const { clients, more } = await operators.listClients({ page });
    await sendPage(ctx, "admin-clients", { title: "Admin: OAuth clients", clients, page, more });
  });

  const clientAction = (path: string, fn: (id: string, by: AdminActing, reason?: string) => Promise<unknown>) =>
    router.post(`/admin/clients/${path}`, admin, requireCsrf, async (ctx) => {
      const body = z
        .object({ client_id: z.string().regex(CLIENT_ID, "That is not a client id."), reason: z.string().max(500).optional() })
        .safeParse(ctx.request.body ?? {});
      if (!body.success) throw new HttpError(400, "invalid_request", body.error.issues[0]?.message ?? "invalid form");
      await run(() => fn(body.data.client_id, acting(ctx), body.data.reason?.trim() || undefined));
      ctx.status = 303;
      ctx.redirect("/admin/clients");
    });
  clientAction("block", (id, by, reason) => operators.blockClient(id, by, reason));
  clientAction("unblock", (id, by) => operators.unblockClient(id, by));

  router.get("/admin/resources", admin, async (ctx) => {
    const resources = await services.resources.list();
    const counts = await services.db.apiKey.groupBy({ by: ["resource"], where: { revokedAt: null }, _count: { _all: true } });
    const rows = resources.map((r) => ({
      slug: r.slug,
      name: r.name,
      url: r.url,
      kind: r.transport.kind,
      activeKeys: counts.filter((c) => c.resource?.split(" ").includes(r.url)).reduce((n, c) => n + c._count._all, 0),
    }));
    await sendPage(ctx, "admin-resources", { title: "Admin: resources", resources: rows });
  });

  router.get("/admin/audit", admin, async (ctx) => {
    const f = query(auditQuery, ctx);
    const user = f.user ? (f.user.includes("@") ? await services.users.findByEmail(f.user) : await services.users.findById(f.user)) : null;
    const cursor = f.before ? CURSOR.exec(f.before) : null;
    const noSuchUser = Boolean(f.user) && !user;
    const { events, more } = noSuchUser
      ? { events: [], more: false }
      : await operators.audit({
          action: f.action,
          userId: user?.id,
          from: f.from ? new Date(`${f.from}T00:00:00Z`) : undefined,
          to: f.to ? new Date(Date.parse(`${f.to}T00:00:00Z`) + 86_400_000) : undefined,
          before: cursor ? { createdAt: new Date(Number(cursor[1])), id: cursor[2]! } : undefined,
        });
    const last = events.at(-1);
    const keep = new URLSearchParams(
      Object.entries({ action: f.action, user: f.user, from: f.from, to: f.to }).filter((e): e is [string, string] => Boolean(e[1])),
    );
    if (more && last) keep.set("before", `${Date.parse(last.createdAt)}-${last.id}`);
    await sendPage(ctx, "admin-audit", {
      title: "Admin: audit trail",
      filters: { action: f.action ?? "", user: f.user ?? "", from: f.from ?? "", to: f.to ?? "" },
      kinds: Object.entries(EVENT_KINDS).map(([value, label]) => ({ value, label })),
      events,
      olderUrl: more && last ? `/admin/audit?${keep}` : null,
    });
  });

  return router;
}
