// Reads a JSON request body with a size limit (for the few OAuth endpoints we look at first).
import type { Context } from "koa";

export type JsonBody = { ok: true; value: unknown } | { ok: false; status: number; message: string };

export async function readJsonBody(ctx: Context, limit: number): Promise<JsonBody> {
  if (!ctx.is("application/json")) return { ok: false, status: 400, message: "client metadata must be sent as application/json" };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) return { ok: false, status: 413, message: `request body is larger than ${limit / 1024} kB` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { ok: false, status: 400, message: "request body is not valid JSON" };
  }
}
