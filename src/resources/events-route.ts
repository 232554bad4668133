// GET /api/resources/<slug>/events: the Server-Sent Events stream a separate resource server follows
// to keep its cache of verifications true (docs/resource-servers.md). Authenticated with the
// resource's credentials (HTTP Basic); another resource's slug answers 404, as a missing one does.
//
// What it sends, from the key events every instance shares (src/keys/events/):
// - on connecting with `Last-Event-ID`, the events after it that concern this resource; when they may
//   have been pruned, `reset` (forget every cached verification);
// - then `ready` (the reader is up to date: its cache may be trusted from here);
// - then, as they are committed, `revoked`, `changed` or `removed`, each with the key's SHA-256 (hex);
// - a comment every KEEP_ALIVE_MS, so proxies and the reader see the stream is alive.
// Every event has an id (the reader's position). Changes made by this instance's revoke path are sent
// before it answers; others (another instance, the CLI, a role change) within POLL_MS.
// At most MAX_STREAMS open streams per resource (per instance); more answer 429. A stream ends when
// its resource is removed or its credentials are rotated, and when the instance stops (within POLL_MS).
import type { Middleware } from "koa";
import type { ServerResponse } from "node:http";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { createKeyEvents, onKeyEvents, type KeyEvent } from "../keys/events/index.js";
import { authenticateResource, basicCredentials, invalidClient } from "./server-auth.js";
import { SLUG } from "./identity.js";

const PATH = /^\/api\/resources\/([^/]+)\/events$/;
export const MAX_STREAMS = 8;
const POLL_MS = 1000;
const KEEP_ALIVE_MS = 15_000;
const STALLED_MS = 10_000;

const frame = (event: string, id: number, data: object) => `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * Resolves once the chunk is handed to the socket, or the connection is gone (a write to a closing
 * socket may never call back). A reader that stops reading is cut off after STALLED_MS, so a stalled
 * stream never holds the others or the revocations waiting for them (src/keys/events/ keyEventsCommitted).
 */
function write(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed || res.writableEnded) return resolve();
    const stalled = setTimeout(() => res.destroy(), STALLED_MS);
    const done = () => {
      clearTimeout(stalled);
      res.off("close", done);
      resolve();
    };
    res.once("close", done);
    res.write(chunk, done);
  });
}

export function resourceEventsRoute(services: Services): Middleware<KeywardState> {
  const events = createKeyEvents(services.db);
  const open = new Map<string, number>();
  return async (ctx, next) => {
    const match = PATH.exec(ctx.path);
    if (!match) return next();
    if (ctx.method !== "GET") throw new HttpError(405, "method_not_allowed", "Use GET", { Allow: "GET" });
    const slug = match[1]!;
    const basic = basicCredentials(ctx.get("authorization") || undefined);
    if (!basic || basic === "malformed") throw invalidClient();
    const holder = await authenticateResource(services.resources.lookup, basic);
    if (!SLUG.test(slug) || holder.resource.slug !== slug) throw new HttpError(404, "not_found", "There is nothing at this address.");
    const resource = holder.resource;

    const lastEventId = ctx.get("last-event-id");
    if (lastEventId !== "" && !/^\d{1,15}$/.test(lastEventId))
      throw new HttpError(400, "invalid_request", "Last-Event-ID must be an event id this stream sent");
    if ((open.get(resource.id) ?? 0) >= MAX_STREAMS)
      throw new HttpError(429, "too_many_requests", `At most ${MAX_STREAMS} event streams per resource`, { "Retry-After": "10" });
    open.set(resource.id, (open.get(resource.id) ?? 0) + 1);

    const res = ctx.res;
    ctx.respond = false;
    ctx.status = 200;
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      Connection: "keep-alive",
    });
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);

    let position = 0;
    let closed = false;
    let running: Promise<void> = Promise.resolve();
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = () => {};
    const close = () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      unsubscribe();
      open.set(resource.id, (open.get(resource.id) ?? 1) - 1);
      if (!res.writableEnded) res.end();
    };
    res.on("close", close);

    const send = (e: KeyEvent) => write(res, frame(e.kind, e.id, { sha256: e.keyHash }));
    /** Sends what was committed since `position` (one at a time: the position only moves forward). */
    const catchUp = (): Promise<void> =>
      (running = running
        .then(async () => {
          if (closed) return;
          // A stopping instance ends its streams (its listener waits for open requests): readers reconnect to another.
          if (services.stopping) return close();
          // Rotated credentials or a removed resource end the stream.
          const still = await services.resources.lookup.byCredential(basic.clientId);
          if (!still || still.resource.id !== resource.id || still.secretHash !== holder.secretHash) return close();
          for (;;) {
            const page = await events.after(position, resource.url);
            if (page.reset) {
              position = page.position;
              await write(res, frame("reset", position, {}));
              return;
            }
            for (const e of page.events) await send(e);
            if (page.position === position) return;
            // Events for other resources were skipped: an id alone (no data, so no event) moves the reader past them.
            if (page.events.at(-1)?.id !== page.position) await write(res, `id: ${page.position}\n\n`);
            position = page.position;
          }
        })
        .catch((err: unknown) => {
          services.logger.warn({ err, resource: resource.slug }, "resource event stream failed; closing it");
          close();
        }));

    try {
      if (lastEventId === "") position = await events.position();
      else {
        position = Number(lastEventId);
        await catchUp();
      }
      if (!closed) await write(res, frame("ready", position, {}));
    } catch (err) {
      services.logger.warn({ err, resource: resource.slug }, "resource event stream failed; closing it");
      close();
      return;
    }
    unsubscribe = onKeyEvents(catchUp);
    timers.push(setInterval(() => void catchUp(), POLL_MS));
    timers.push(setInterval(() => void write(res, ": keep-alive\n\n"), KEEP_ALIVE_MS));
    for (const t of timers) t.unref();
  };
}
