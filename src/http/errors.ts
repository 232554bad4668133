// One place turns every error into a clean response: JSON for the API and /mcp, a page for
// browsers. Unexpected errors are logged and answered with a generic 500 (never a stack trace).
// What a page looks like and which OAuth paths are for machines come from app.ts: http/ knows
// nothing of the web pages or of oidc-provider's routes.
import type { Middleware } from "koa";
import { ZodError } from "zod";
import type { Logger } from "../log.js";
import type { Ctx, KeywardState } from "./state.js";
import { isDatabaseUnavailable } from "../db/unavailable.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const CODES: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "request_too_large",
  415: "unsupported_media_type",
  422: "invalid_request",
  429: "too_many_requests",
};

export interface ErrorAnswers {
  /** The HTML page for an error a browser asked for (src/web/render.ts renderError). */
  page: (ctx: Ctx, status: number, message: string) => Promise<string>;
  /** OAuth endpoints for machines, which answer JSON (src/oauth/provider-routes.ts isMachineEndpoint). */
  isMachinePath: (path: string) => boolean;
}

function wantsJson(path: string, accept: string | undefined, isMachinePath: ErrorAnswers["isMachinePath"]): boolean {
  // Our routers match paths case-insensitively, like oidc-provider's.
  const lower = path.toLowerCase();
  if (lower.startsWith("/api/") || lower === "/api" || lower.startsWith("/mcp") || lower.startsWith("/.well-known/")) return true;
  // OAuth machine endpoints, as oidc-provider routes them (the browser-facing /auth and interactions get pages).
  if (isMachinePath(path)) return true;
  return !!accept && accept.includes("application/json") && !accept.includes("text/html");
}

export function errorHandler(logger: Logger, answers: ErrorAnswers): Middleware<KeywardState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      let status = 500;
      let code = "server_error";
      let message = "Something went wrong on our side. Please try again.";
      let headers: Record<string, string> = {};
      if (isDatabaseUnavailable(err)) {
        status = 503;
        code = "temporarily_unavailable";
        message = "The service is temporarily unavailable. Please try again in a few seconds.";
        headers = { "Retry-After": "5" };
        logger.warn({ method: ctx.method, path: ctx.path, err: (err as Error).message }, "database unavailable");
      } else if (err instanceof HttpError) {
        ({ status, code, message, headers } = err);
      } else if (err instanceof ZodError) {
        status = 400;
        code = "invalid_request";
        message = err.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
      } else {
        const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string };
        const s = e.status ?? e.statusCode;
        if (typeof s === "number" && s >= 400 && s < 500) {
          status = s;
          code = CODES[s] ?? "invalid_request";
          message = e.expose && e.message ? e.message : (CODES[s] ?? "Bad request").replace(/_/g, " ");
        }
      }
      if (status >= 500) logger.error({ err, method: ctx.method, path: ctx.path }, "request failed");
      ctx.status = status;
      for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
      if (wantsJson(ctx.path, ctx.get("accept"), answers.isMachinePath)) {
        ctx.body = { error: code, error_description: message };
      } else {
        ctx.type = "html";
        ctx.body = await answers.page(ctx, status, message);
      }
    }
  };
}
