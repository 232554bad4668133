// The streaming reverse proxy to one upstream, with undici: the request's bytes go up, the answer
// comes back as it arrives (an SSE stream event by event: headers are flushed at once, every chunk
// written as read, pipe() carrying backpressure), and a client that goes away aborts the upstream
// request. Failing to reach the upstream (refused, reset, no such host) → 502; no
// connection or no response headers within the timeout → 504; the client hears the resource's name,
// never its URL or an error's text. The upstream's own answers pass through
// unchanged, but a 401 (the upstream refusing the gateway, not the client's key) becomes a 502.
import { EventEmitter } from "node:events";
import { finished, type Readable } from "node:stream";
import type { ServerResponse } from "node:http";
import { Agent, request, type Dispatcher } from "undici";
import type { Ctx } from "../http/state.js";
import { clientResponseHeaders } from "./headers.js";
import { upstreamFailure } from "./errors.js";
import type { Observation } from "./health.js";

export interface ProxyTarget {
  name: string;
  upstream: string;
}

export interface Forwarded {
  /** What the health record learns: an answer and its time to headers, or the failure in words. */
  observation: Observation | undefined;
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);
const FAILURE_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "connection closed before an answer",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  UND_ERR_HEADERS_TIMEOUT: "no answer in time",
  ETIMEDOUT: "connect timed out",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate not valid for the host",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
  CERT_HAS_EXPIRED: "TLS certificate expired",
};

/** The error's code, looking through undici's and Node's wrappers (cause, AggregateError). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === "string" && code !== "UND_ERR") return code;
    e = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

export function createUpstreamAgent(timeoutMs: number): Dispatcher {
  // No body timeout: an SSE stream may be quiet for long. Headers must come within the timeout.
  return new Agent({ headersTimeout: timeoutMs, bodyTimeout: 0, connect: { timeout: timeoutMs }, keepAliveTimeout: 4000 });
}

export async function forward(
  ctx: Ctx,
  target: ProxyTarget,
  options: { dispatcher: Dispatcher; headers: Record<string, string | string[]>; body?: Buffer; timeoutMs: number },
): Promise<Forwarded> {
  // Only a client that leaves before the answer is complete aborts the upstream request. The signal is
  // an EventEmitter, which undici takes as one (its docs: AbortSignal | EventEmitter): lighter than an
  // AbortController's EventTarget for every request, and no DOMException built when it fires.
  const abort = new EventEmitter();
  let clientLeft = false;
  const onClose = () => {
    if (ctx.res.writableFinished) return;
    clientLeft = true;
    abort.emit("abort");
  };
  ctx.res.once("close", onClose);
  const started = performance.now();
  let answer: Dispatcher.ResponseData;
  try {
    answer = await request(target.upstream, {
      dispatcher: options.dispatcher,
      method: ctx.method as Dispatcher.HttpMethod,
      headers: options.headers,
      body: options.body,
      signal: abort,
      headersTimeout: options.timeoutMs,
      bodyTimeout: 0,
    });
  } catch (err) {
    if (clientLeft) {
      ctx.respond = false; // the client is gone: nobody to answer
      return { observation: undefined };
    }
    const code = errorCode(err);
    const kind = code && TIMEOUT_CODES.has(code) ? "timeout" : "unreachable";
    const failure = upstreamFailure(kind, target.name);
    ctx.status = failure.status;
    ctx.set("Cache-Control", "no-store");
    ctx.body = failure.body;
    const words = (code && FAILURE_WORDS[code]) ?? "request failed";
    return { observation: { ok: false, error: kind === "timeout" ? `${words} (${options.timeoutMs / 1000} s)` : words, at: new Date() } };
  }
  const latencyMs = performance.now() - started;
  if (answer.statusCode === 401) {
    // The upstream refused the gateway itself (e.g. it checks X-Keyward-Assertion and is set up for
    // another issuer): the client's key is fine, so its 401 (which would send the client back to log
    // in, forever) is a 502 here.
    await answer.body.dump().catch(() => undefined);
    const failure = upstreamFailure("refused", target.name);
    ctx.status = failure.status;
    ctx.set("Cache-Control", "no-store");
    ctx.body = failure.body;
    ctx.res.off("close", onClose);
    return { observation: { ok: false, error: "refused the gateway (401)", at: new Date() } };
  }
  const res = ctx.res;
  res.statusCode = answer.statusCode;
  for (const [name, value] of clientResponseHeaders(answer.headers)) {
    if (!res.hasHeader(name)) res.setHeader(name, value);
  }
  if (!res.hasHeader("cache-control")) res.setHeader("cache-control", "no-store"); // an answer for one user: no shared cache keeps it
  ctx.respond = false;
  // The client learns the answer (and an SSE stream starts) now, not with the first chunk, which may
  // be long in coming. When that chunk came with the headers (a JSON answer, an SSE stream whose first
  // event was ready), it is written at once below and carries them: one write to the socket, not two.
  if (answer.body.readableLength === 0) res.flushHeaders();
  try {
    await relay(answer.body, res);
  } finally {
    ctx.res.off("close", onClose);
  }
  return { observation: { ok: true, latencyMs, at: new Date() } };
}

/**
 * The upstream's answer to the client, chunk by chunk as it comes: pipe() carries the backpressure (a
 * client that does not read pauses the upstream's body). Settles when the client's response is
 * finished or either side broke off, never rejects: the client left (the upstream's body is destroyed
 * and its request aborted), or the upstream broke off mid-answer (the client's response ends short,
 * as the upstream's did). Nothing more can be said to either.
 *
 * Not stream.pipeline(): it makes an AbortController for every call and aborts it when done, which
 * builds a DOMException with a stack trace for every answer: a twentieth of the gateway's CPU per
 * request in a profile (bench/RESULTS-gateway.md). finished() watches both ends without one.
 */
function relay(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const stopWatchingBody = finished(body, { writable: false }, (err) => {
      if (!err) return; // pipe() ends the response; it is done when it has finished
      body.unpipe(res);
      if (!res.destroyed) res.destroy(); // the upstream broke off: the client's answer ends short too
    });
    const stopWatchingRes = finished(res, (err) => {
      stopWatchingBody();
      stopWatchingRes();
      if (err) body.destroy(); // the client left before the end
      resolve();
    });
    body.pipe(res);
  });
}
