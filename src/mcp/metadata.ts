// RFC 9728 protected-resource metadata for /mcp: tells MCP clients which authorization server
// issues keys for it and how to present them.
import { Router } from "@koa/router";
import type { Config } from "../config.js";
import type { KeywardState } from "../http/state.js";
import { DPOP_SIGNING_ALGS } from "../keys/dpop/proof.js";

export const MCP_PATH = "/mcp";
export const PRM_PATH = "/.well-known/oauth-protected-resource/mcp";

export const mcpResource = (config: Config) => `${config.baseUrl}${MCP_PATH}`;
export const mcpResourceMetadataUrl = (config: Config) => `${config.baseUrl}${PRM_PATH}`;

export function protectedResourceMetadata(config: Config) {
  return {
    resource: mcpResource(config),
    authorization_servers: [config.baseUrl],
    bearer_methods_supported: ["header"],
    // RFC 9449 §5.1: DPoP-bound keys are accepted with proofs signed with these.
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    scopes_supported: config.scopes,
    resource_name: "Keyward MCP server",
    resource_documentation: `${config.baseUrl}/`,
  };
}

export function metadataRoutes(config: Config): Router<KeywardState> {
  const router = new Router<KeywardState>();
  const body = protectedResourceMetadata(config);
  for (const path of [PRM_PATH, "/.well-known/oauth-protected-resource"]) {
    router.get(path, (ctx) => {
      ctx.set("Access-Control-Allow-Origin", "*");
      ctx.set("Cache-Control", "public, max-age=300");
      ctx.body = body;
    });
  }
  return router;
}
