// Serves the two files in static/ (stylesheet and the progressive-enhancement script).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Middleware } from "koa";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "static");
const files: Record<string, { type: string; body: Buffer }> = {
  "/static/app.css": { type: "text/css; charset=utf-8", body: readFileSync(path.join(dir, "app.css")) },
  "/static/app.js": { type: "text/javascript; charset=utf-8", body: readFileSync(path.join(dir, "app.js")) },
};

export const serveStatic: Middleware = async (ctx, next) => {
  const file = ctx.method === "GET" || ctx.method === "HEAD" ? files[ctx.path] : undefined;
  if (!file) return next();
  ctx.type = file.type;
  ctx.set("Cache-Control", "public, max-age=3600");
  ctx.body = file.body;
};
