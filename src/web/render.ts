// Server-rendered pages: a view rendered into the layout. ejs escapes every `<%= %>` value;
// templates use `<%-` only for the already-rendered body and partials.
import path from "node:path";
import { fileURLToPath } from "node:url";
import ejs from "ejs";
import type { Ctx } from "../http/state.js";

const viewsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "views");

export interface PageLocals {
  title: string;
  [key: string]: unknown;
}

export async function renderPage(ctx: Ctx, view: string, locals: PageLocals): Promise<string> {
  const common = {
    user: ctx.state.session?.user ?? null,
    isAdmin: ctx.state.session?.admin === true, // operators (src/admin/): the nav's Admin link
    csrfToken: ctx.state.csrfToken ?? "",
    path: ctx.path,
  };
  const options = { cache: true, async: true, root: viewsDir, views: [viewsDir] };
  const body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { ...common, ...locals }, options);
  return ejs.renderFile(path.join(viewsDir, "layout.ejs"), { ...common, ...locals, body }, options);
}

export async function sendPage(ctx: Ctx, view: string, locals: PageLocals, status = 200): Promise<void> {
  ctx.status = status;
  ctx.type = "html";
  ctx.set("Cache-Control", "no-store");
  ctx.body = await renderPage(ctx, view, locals);
}

export async function renderError(ctx: Ctx, status: number, message: string): Promise<string> {
  try {
    return await renderPage(ctx, "error", { title: `Error ${status}`, status, message });
  } catch {
    return `<!doctype html><title>Error ${status}</title><p>${ejs.escapeXML(message)}</p>`;
  }
}
