// Body parsing for our own routes (oidc-provider parses its own): JSON and forms, 100 kB at most.
import { bodyParser } from "@koa/bodyparser";

export const parseBody = () =>
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
