// Errors shown on the form that caused them: a page re-renders itself with the message next to the
// form and the input kept, instead of the bare error page. Only the request's own mistakes (4xx)
// are shown this way; anything else goes on to the error handler (src/http/errors.ts).
import type { Next } from "koa";
import { ZodError } from "zod";
import { HttpError } from "../http/errors.js";
import type { Ctx } from "../http/state.js";

/** A request matched by a router: its path parameters are known. */
export type RoutedCtx = Ctx & { params: Record<string, string> };

export interface FormError {
  /** Which form on the page: the view puts the message next to it. */
  form: string;
  /** The row the form acts on (a member, a key), when the page has one such form per row. */
  target: string;
  message: string;
  /** What was sent, to fill the form again (never the CSRF token). */
  input: Record<string, string>;
}

const STALE_FORM =
  "Nothing was changed: this form was out of date (it came from an earlier log-in or another tab). Check it and send it again.";

/** Status and words for an error the user can fix on the form; undefined for anything else. */
export function formProblem(err: unknown): { status: number; message: string; headers: Record<string, string> } | undefined {
  if (err instanceof ZodError) return { status: 400, message: err.issues.map((i) => i.message).join("; "), headers: {} };
  if (err instanceof HttpError && err.status >= 400 && err.status < 500) {
    return { status: err.status, message: err.code === "invalid_csrf_token" ? STALE_FORM : err.message, headers: err.headers };
  }
  return undefined;
}

function inputOf(ctx: Ctx): Record<string, string> {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (name !== "_csrf" && typeof value === "string") kept[name] = value.slice(0, 1000);
  return kept;
}

/**
 * Middleware for a form's POST: when what follows fails with a 4xx, `render` shows the form's page
 * again with the error, at the error's status. Put it before requireCsrf so a stale token is shown
 * the same way. When the page itself cannot be shown (not logged in, not a member), the original
 * error goes on unchanged: the answer never says more than the bare error would.
 */
export function showErrorsOnForm(
  form: string,
  render: (ctx: RoutedCtx, error: FormError, status: number) => Promise<void>,
  target: (ctx: RoutedCtx) => string = () => "",
) {
  return async (ctx: RoutedCtx, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const problem = formProblem(err);
      if (!problem || !ctx.state.session) throw err;
      try {
        await render(ctx, { form, target: target(ctx), message: problem.message, input: inputOf(ctx) }, problem.status);
      } catch {
        throw err;
      }
      for (const [k, v] of Object.entries(problem.headers)) ctx.set(k, v);
    }
  };
}
