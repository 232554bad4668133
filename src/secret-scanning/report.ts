// POST /api/secret-scanning/report: a secret scanner (GitHub's partner program, or anything that
// signs with the shared secret) reports keys found in public places. Every reported key of ours is
// revoked at once and the event lands in its owner's audit trail (actor `secret_scanning`).
// Shaped like GitHub's partner program: a JSON array of {token, type, url, source} in; an array of
// {token_hash, token_type, label: "true_positive" | "false_positive"} out. Reported tokens are never
// logged, echoed or stored: the response names them by SHA-256.
// Without SECRET_SCANNING_SECRET or SECRET_SCANNING_PUBLIC_KEYS the endpoint does not exist (404).
import { createHash } from "node:crypto";
import type { Middleware } from "koa";
import { z } from "zod";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { refuseIllFormedBody } from "../http/body.js";
import { parsePublicKeys, validEcdsa, validHmac } from "./signature.js";
import { keyLeakReported } from "../audit/key-events.js";
import type { KeyActing } from "../keys/index.js";
import { requestMeta } from "../http/request-meta.js";

export const SECRET_SCANNING_PATH = "/api/secret-scanning/report";
export const MAX_REPORT_BYTES = 1024 * 1024;
export const DEFAULT_TOKEN_TYPE = "keyward_api_key";

const reportSchema = z
  .array(
    z.object({
      token: z.string().min(1).max(1024),
      type: z.string().max(200).optional(),
      url: z.string().max(2000).optional(),
      source: z.string().max(100).optional(),
    }),
  )
  .min(1, "the report must list at least one token")
  .max(1000, "at most 1000 tokens per report");

export type ReportLabel = "true_positive" | "false_positive";

async function readRaw(ctx: Parameters<Middleware>[0]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REPORT_BYTES) throw new HttpError(413, "request_too_large", "The report is larger than 1 MB");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** GitHub's token_hash: SHA-256 (hex) of the reported string. */
const tokenHash = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

export function secretScanningReport(services: Services): Middleware<KeywardState> {
  const { secret, publicKeys } = services.config.secretScanning;
  const ecKeys = publicKeys ? parsePublicKeys(publicKeys) : [];
  const enabled = secret !== undefined || ecKeys.length > 0;

  return async (ctx, next) => {
    if (ctx.path !== SECRET_SCANNING_PATH) return next();
    if (!enabled) throw new HttpError(404, "not_found", "There is nothing at this address.");
    ctx.set("Cache-Control", "no-store");
    if (ctx.method !== "POST") throw new HttpError(405, "method_not_allowed", "Use POST", { Allow: "POST" });

    const body = await readRaw(ctx);
    const authentic =
      (secret !== undefined && validHmac(secret, body, ctx.get("x-keyward-signature") || undefined)) ||
      validEcdsa(ecKeys, body, ctx.get("github-public-key-signature") || undefined);
    if (!authentic) throw new HttpError(401, "invalid_signature", "The report's signature is missing or does not verify");

    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      throw new HttpError(400, "invalid_request", "The report is not valid JSON");
    }
    refuseIllFormedBody(json); // no NUL or lone surrogate reaches the revocation or the audit trail
    const parsed = reportSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(
        400,
        "invalid_request",
        `The report must be a JSON array of {token, type, url, source}${issue ? ` (${issue.path.join(".") || "report"}: ${issue.message})` : ""}`,
      );
    }

    const results: { token_hash: string; token_type: string; label: ReportLabel }[] = [];
    for (const item of parsed.data) {
      // The scanner (`source`: where it looked) acts; where the key was found goes with the event.
      const by: KeyActing = {
        actor: { type: "secret_scanning", id: item.source ?? null },
        via: "secret_scanning",
        ...requestMeta(ctx),
        note: { reason: "leaked", url: item.url ?? null, type: item.type ?? null },
      };
      const [leaked] = await services.keys.revoke({ kind: "raw", raw: item.token }, by);
      // Revoked before this report: nothing changes, but the owner learns the key was seen in public.
      if (leaked && !leaked.wasActive) await services.audit.record(keyLeakReported(leaked.owner.id, leaked.key, by));
      results.push({
        token_hash: tokenHash(item.token),
        token_type: item.type ?? DEFAULT_TOKEN_TYPE,
        label: leaked ? "true_positive" : "false_positive",
      });
    }
    ctx.status = 200;
    ctx.body = results;
  };
}
