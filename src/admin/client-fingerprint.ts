// What "the same metadata" means for a blocked OAuth client (src/admin/): its client_name (trimmed,
// case-folded) and its set of redirect_uris (order and duplicates ignored). A registration whose
// fingerprint is a blocked client's is refused (registration-refusal.ts). Stored as a SHA-256 digest.
import { createHash } from "node:crypto";

export function clientFingerprint(metadata: { client_name?: unknown; redirect_uris?: unknown }): string {
  const name = typeof metadata.client_name === "string" ? metadata.client_name.trim().normalize("NFKC").toLowerCase() : "";
  const uris = Array.isArray(metadata.redirect_uris)
    ? [...new Set(metadata.redirect_uris.filter((u): u is string => typeof u === "string"))].sort()
    : [];
  return createHash("sha256")
    .update(JSON.stringify([name, uris]))
    .digest("hex");
}
