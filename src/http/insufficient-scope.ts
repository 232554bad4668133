// A refusal from src/keys/mint-policy.ts as an HTTP answer: RFC 6750 §3.1 insufficient_scope, 403,
// JSON body, and the challenge naming the scope to ask for when one would do.
import type { Config } from "../config.js";
import type { Refusal } from "../keys/mint-policy.js";
import { mcpResourceMetadataUrl } from "../mcp/metadata.js";
import { HttpError } from "./errors.js";

export function refusalError(config: Config, refusal: Refusal): HttpError {
  const challenge = [
    `Bearer error="insufficient_scope"`,
    ...(refusal.scope ? [`scope="${refusal.scope}"`] : []),
    `resource_metadata="${mcpResourceMetadataUrl(config)}"`,
  ].join(", ");
  return new HttpError(refusal.status, refusal.error, refusal.description, { "WWW-Authenticate": challenge });
}
