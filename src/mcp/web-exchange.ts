// The MCP SDK v2 serves fetch-shaped exchanges (a web Request in, a web Response out); Koa hands us
// Node's request and response. One Request per exchange: its URL is the configured resource URL (the
// Host header chooses nothing), its headers the client's, its signal aborts when the client goes away.
// The body is not copied into it: the route has already read and checked it, and the SDK takes it as
// `parsedBody`. The Response is written as it is produced: an SSE stream event by event.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { Ctx } from "../http/state.js";

/** The client's request as a body-less web Request for `url`, aborted when the client leaves. */
export function webRequestOf(ctx: Ctx, url: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  const controller = new AbortController();
  ctx.res.once("close", () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  return new Request(url, { method: ctx.method, headers, signal: controller.signal });
}

/** Writes a web Response to the client; Koa does not answer for this request any more. */
export async function sendWebResponse(ctx: Ctx, response: Response): Promise<void> {
  ctx.respond = false;
  const res = ctx.res;
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders(); // an SSE stream starts now, not with its first event
  try {
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), res);
  } catch {
    // The client left mid-answer: nobody to tell.
    if (!res.destroyed) res.destroy();
  }
}
