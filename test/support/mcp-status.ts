// What someone holding a key sees at /mcp: one tools/call of whoami. 200 for a key that works (its
// body says whose key it is), 401 for a revoked, expired or unknown one; or a tools/call of any tool
// at any MCP path, for tests that read why a call was refused; or any JSON-RPC message a test builds
// (toolCall() builds a tools/call).
import request from "supertest";
import type { Reachable } from "./server.js";

/** A JSON-RPC tools/call of tool `name` with `args`. */
export const toolCall = (name: string, args: Record<string, unknown> = {}, id = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

const WHOAMI = toolCall("whoami");

export interface WhoamiOptions {
  /** How the key is presented: `Authorization: Bearer` (default) or `X-API-Key`. */
  as?: "bearer" | "x-api-key";
}

/** POSTs a tools/call of whoami to /mcp with `key`: the response (status, headers, text, the JSON body parsed). */
export function mcpWhoami(server: Reachable, key: string, options: WhoamiOptions = {}): request.Test {
  return request(server.url)
    .post("/mcp")
    .set(options.as === "x-api-key" ? "X-API-Key" : "Authorization", options.as === "x-api-key" ? key : `Bearer ${key}`)
    .set("Accept", "application/json, text/event-stream")
    .send(WHOAMI);
}

/**
 * POSTs a tools/call of `tool` (with `{ text: "hi" }`, which tools that take no arguments ignore) to
 * `path` (/mcp, or a gateway resource's /mcp/<slug>) with `key` as a Bearer token.
 */
export function mcpToolCall(server: Reachable, key: string, path = "/mcp", tool = "whoami"): request.Test {
  return mcpPost(server, key, toolCall(tool, { text: "hi" }), path);
}

/** POSTs the JSON-RPC message `body` to `path` (default /mcp) with `key` as a Bearer token. */
export function mcpPost(server: Reachable, key: string, body: object, path = "/mcp"): request.Test {
  return request(server.url)
    .post(path)
    .set("Authorization", `Bearer ${key}`)
    .set("Accept", "application/json, text/event-stream")
    .send(body);
}

export async function mcpStatus(server: Reachable, raw: string): Promise<number> {
  return (await mcpWhoami(server, raw)).status;
}
