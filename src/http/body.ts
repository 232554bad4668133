// Body parsing for our own routes (oidc-provider parses its own): JSON and forms, 100 kB at most,
// holding only text we accept (src/http/well-formed.ts).
import { bodyParser } from "@koa/bodyparser";
import compose from "koa-compose";
import type { Middleware } from "koa";
import { HttpError } from "./errors.js";
import { DEFECT_TEXT, percentEncodedDefect, valueDefect, type TextDefect } from "./well-formed.js";

// Refused at the edge, before any route, schema or database sees the body: every string (keys
// included, at any depth) and, for forms, the raw percent-escapes (the form decoder would turn
// %ED%A0%80 into U+FFFD or leave it undecoded).
const rejectIllFormedText: Middleware = async (ctx, next) => {
  const raw: unknown = ctx.request.rawBody;
  refuse(
    valueDefect(ctx.request.body) ??
      (typeof raw === "string" && ctx.request.is("application/x-www-form-urlencoded") ? percentEncodedDefect(raw) : undefined),
  );
  await next();
};

function refuse(defect: TextDefect | undefined): void {
  if (defect) throw new HttpError(400, "invalid_request", `The request body contains ${DEFECT_TEXT[defect]}`);
}

/** The same refusal for a route that parses its own body (e.g. to check a signature over its bytes). */
export function refuseIllFormedBody(parsed: unknown): void {
  refuse(valueDefect(parsed));
}

export const parseBody = () => compose([parser(), rejectIllFormedText]);

const parser = () =>
  bodyParser({
    enableTypes: ["json", "form"],
    jsonLimit: "100kb",
    formLimit: "100kb",
    encoding: "utf-8",
    onError: (err: Error & { status?: number }, ctx) => {
      const tooLarge = err.status === 413 || /too large/i.test(err.message);
      ctx.throw(tooLarge ? 413 : 400, tooLarge ? "Request body is larger than 100 kB" : "Request body is not valid JSON or form data");
    },
  });
