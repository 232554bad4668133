// The connection doctor's pages: a client's last 20 events for the logged-in user
// (/app/account/connected-apps/<client>/doctor, linked from Connected apps) and a key's
// (/app/account/api-keys/<id>/doctor, linked from the key's row and page). A user sees only their
// own events, plus the client's events from before any user was known (its registration) when they
// hold a key from that client. A client they have neither a key nor an event from, another user's
// key and a missing one all get the same 404.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { sendPage } from "../web/render.js";
import { loginUrlFor } from "../web/require-login.js";
import type { ConnectionEvent } from "./events.js";

export const DOCTOR_EVENTS_SHOWN = 20;
const APPS_PAGE = "/app/account/connected-apps";
const KEYS_PAGE = "/app/account/api-keys";

const STEP_NAMES: Record<ConnectionEvent["step"], string> = {
  discovery: "Discovery",
  registration: "Registration",
  authorization: "Authorization request",
  consent: "Consent",
  token: "Code exchange",
  mcp_request: "MCP request",
};

/** An event as the page shows it: its step in words and its details as name: value lines. */
function shown(e: ConnectionEvent) {
  return {
    ...e,
    stepName: STEP_NAMES[e.step] ?? e.step,
    details: Object.entries(e.detail)
      .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
      .map(([name, v]) => `${name}: ${Array.isArray(v) ? v.join(" ") : String(v)}`),
  };
}

export function doctorRoutes(services: Services): Router<KeywardState> {
  const { keys } = services;
  const { events } = services.doctor;
  const router = new Router<KeywardState>();

  const render = (ctx: Ctx, heading: string, subject: string, list: ConnectionEvent[], back: { href: string; label: string }) =>
    sendPage(ctx, "connection-doctor", { title: heading, heading, subject, events: list.map(shown), back, shownMax: DOCTOR_EVENTS_SHOWN });

  router.get(`${APPS_PAGE}/:clientId/doctor`, async (ctx) => {
    const user = ctx.state.session?.user;
    if (!user) return ctx.redirect(loginUrlFor(ctx, APPS_PAGE));
    const clientId = ctx.params.clientId!;
    const fromClient = (await keys.listOAuth(user.id)).filter((k) => k.clientId === clientId);
    const list = await events.forUser(user.id, clientId, fromClient.length > 0, DOCTOR_EVENTS_SHOWN);
    if (fromClient.length === 0 && list.length === 0) throw new HttpError(404, "not_found", "No connected app with that id.");
    const name = fromClient[0]?.label.replace(/^OAuth: /, "") ?? clientId;
    await render(ctx, `Connection doctor: ${name}`, `client id ${clientId}`, list, { href: APPS_PAGE, label: "Back to connected apps" });
  });

  router.get(`${KEYS_PAGE}/:id/doctor`, async (ctx) => {
    const user = ctx.state.session?.user;
    if (!user) return ctx.redirect(loginUrlFor(ctx, KEYS_PAGE));
    const key = await keys.get(user.id, ctx.params.id!);
    if (!key) throw new HttpError(404, "not_found", "No API key with that id.");
    const list = (await events.ofKey(key.id, DOCTOR_EVENTS_SHOWN)).filter((e) => e.userId === user.id);
    await render(ctx, `Connection doctor: key “${key.label}”`, `key ${key.id} ending in ${key.last4}`, list, {
      href: `${KEYS_PAGE}/${encodeURIComponent(key.id)}`,
      label: "Back to the key",
    });
  });

  return router;
}
