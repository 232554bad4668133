// Body parsing for our own routes (oidc-provider parses its own): JSON and forms, 100 kB at most.
import { bodyParser } from "@koa/bodyparser";
import compose from "koa-compose";
import type { Middleware } from "koa";

/** True when any string in a parsed body (keys included) holds a NUL character. */
export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (depth > 20 || value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => k.includes("\u0000") || containsNul(v, depth + 1));
}

// NUL is never meaningful in our inputs and PostgreSQL cannot store it: refuse it at the edge.
const rejectNul: Middleware = async (ctx, next) => {
  if (containsNul(ctx.request.body)) ctx.throw(400, "Request body contains a NUL character");
  await next();
};

export const parseBody = () => compose([parser(), rejectNul]);

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
