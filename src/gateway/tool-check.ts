// Per-tool scopes at the gateway: a resource maps tools to scopes; a tools/call of a mapped tool the
// key's effective scopes lack is refused with 403 insufficient_scope before the upstream sees it.
//
// What is called is read from the JSON-RPC body (one message or a batch), the bytes the upstream
// receives. `Mcp-Method` / `Mcp-Name` (MCP 2026-07-28: sent on POST so gateways can route without
// parsing) must agree with that body, message by message; a request whose headers say one thing and
// whose body another is refused (400), so nothing downstream can act on the other reading.
// So can a body that other JSON parsers could read differently from ours: a member that is `method`,
// `params` or `name` only after case folding (Go's encoding/json matches field names that way: a
// `"Name"` would be the tool name there and nothing here).
import { calledTools, lackingCall } from "../mcp/scope-guard.js";
import { GatewayError } from "./errors.js";

export type ToolCheck = { ok: true } | { ok: false; scope: string; tool: string };

const MESSAGE_MEMBERS = ["jsonrpc", "id", "method", "params"];
const NAME_MEMBERS = ["name", "uri"];
const fold = (key: string) => key.normalize("NFKC").toLowerCase();

const refuse = (description: string) => new GatewayError(400, "invalid_request", description);

function checkMembers(value: object, reserved: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (reserved.includes(key)) continue;
    if (reserved.includes(fold(key)))
      throw refuse(`The JSON-RPC message has a member "${key}" that only differs from "${fold(key)}" in case`);
  }
}

/** The name a message's Mcp-Name header must carry: the tool, prompt or resource it acts on. */
function nameOf(method: unknown, params: unknown): unknown {
  if (!params || typeof params !== "object") return undefined;
  if (method === "resources/read") return (params as { uri?: unknown }).uri;
  return (params as { name?: unknown }).name;
}

/** Throws a 400 GatewayError when the body and its headers disagree, or the body could be read two ways. */
export function checkAgreement(body: unknown, headers: { method?: string; name?: string }): void {
  const messages = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    if (!message || typeof message !== "object" || Array.isArray(message)) {
      if (headers.method !== undefined) throw refuse(`The Mcp-Method header says ${headers.method} but the body is not a JSON-RPC request`);
      continue;
    }
    checkMembers(message, MESSAGE_MEMBERS);
    const { method, params } = message as { method?: unknown; params?: unknown };
    if (params && typeof params === "object" && !Array.isArray(params)) checkMembers(params, NAME_MEMBERS);
    if (method === "tools/call" && typeof nameOf(method, params) !== "string")
      throw refuse("A tools/call must name its tool in params.name");
    if (headers.method !== undefined && method !== headers.method)
      throw refuse(`The Mcp-Method header (${headers.method}) does not match the body's method`);
    if (headers.name !== undefined && nameOf(method, params) !== headers.name)
      throw refuse(`The Mcp-Name header (${headers.name}) does not match the name in the body`);
  }
}

/** The first mapped scope a tools/call in the body needs and the key lacks. */
export function checkToolScopes(body: unknown, granted: readonly string[], toolScopes: Readonly<Record<string, string>>): ToolCheck {
  if (calledTools(body).length === 0) return { ok: true };
  const lacking = lackingCall(body, granted, (tool) => (Object.hasOwn(toolScopes, tool) ? toolScopes[tool] : undefined));
  return lacking ? { ok: false, scope: lacking.scope, tool: lacking.tool } : { ok: true };
}
