// Per-tool scopes at the gateway: a resource maps tools to scopes; a tools/call of a mapped tool the
// key's effective scopes lack is refused with 403 insufficient_scope before the upstream sees it.
//
// What is called is read from the JSON-RPC body (one message or a batch), the bytes the upstream
// receives. MCP 2026-07-28 clients also say it in headers, so gateways can route without parsing:
// `Mcp-Method` (the method) and `Mcp-Name` (the tool, prompt, resource URI or task id the method acts
// on; a value that is not plain printable ASCII is sent as `=?base64?<UTF-8 in Base64>?=` and is
// compared decoded), next to `MCP-Protocol-Version`, which must name the version the body's
// `_meta` envelope names. When sent, they must agree with that body, message by message; a request
// whose headers say one thing and whose body another is refused (400), so an upstream that acts on
// the headers acts on what was checked. An `Mcp-Name` on a method that names nothing is refused too.
// So can a body that other JSON parsers could read differently from ours: a member that is `method`,
// `params`, `name`, `uri` or `taskId` only after case folding (Go's encoding/json matches field names
// that way: a `"Name"` would be the tool name there and nothing here).
import { calledTools, lackingCall } from "../mcp/scope-guard.js";
import { GatewayError } from "./errors.js";

export type ToolCheck = { ok: true } | { ok: false; scope: string; tool: string };

const MESSAGE_MEMBERS = ["jsonrpc", "id", "method", "params"];
/** The params member `Mcp-Name` carries, per method (MCP 2026-07-28, standard request headers). */
const NAME_SOURCE: Readonly<Record<string, string>> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};
const NAME_MEMBERS = ["name", "uri", "taskId"];
/** The `_meta` key of a 2026-07-28 request that names its protocol version. */
export const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
const fold = (key: string) => key.normalize("NFKC").toLowerCase();

const refuse = (description: string) => new GatewayError(400, "invalid_request", description);

function checkMembers(value: object, reserved: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (reserved.includes(key)) continue;
    const twin = reserved.find((name) => fold(name) === fold(key));
    if (twin !== undefined) throw refuse(`The JSON-RPC message has a member "${key}" that only differs from "${twin}" in case`);
  }
}

const BASE64_SENTINEL = /^=\?base64\?(.*)\?=$/su;
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/u;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A standard header's value as meant: decoded from `=?base64?…?=` when so sent; undefined when that encoding is broken. */
export function decodeHeaderValue(value: string): string | undefined {
  const encoded = BASE64_SENTINEL.exec(value)?.[1];
  if (encoded === undefined) return value;
  if (!CANONICAL_BASE64.test(encoded)) return undefined;
  try {
    return utf8.decode(Buffer.from(encoded, "base64"));
  } catch {
    return undefined;
  }
}

/** What the standard MCP request headers say, as sent (undefined: not sent). */
export interface StandardHeaders {
  method?: string;
  name?: string;
  protocolVersion?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === "object" && !Array.isArray(value);

/** Throws a 400 GatewayError when the body and its headers disagree, or the body could be read two ways. */
export function checkAgreement(body: unknown, headers: StandardHeaders): void {
  const name = headers.name === undefined ? undefined : decodeHeaderValue(headers.name);
  if (headers.name !== undefined && name === undefined)
    throw refuse("The Mcp-Name header's =?base64?…?= value is not Base64 of UTF-8 text");
  const messages = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    if (!isObject(message)) {
      if (headers.method !== undefined) throw refuse(`The Mcp-Method header says ${headers.method} but the body is not a JSON-RPC request`);
      continue;
    }
    checkMembers(message, MESSAGE_MEMBERS);
    const { method, params } = message;
    if (isObject(params)) checkMembers(params, NAME_MEMBERS);
    const source = typeof method === "string" && Object.hasOwn(NAME_SOURCE, method) ? NAME_SOURCE[method] : undefined;
    const named = source !== undefined && isObject(params) ? params[source] : undefined;
    if (method === "tools/call" && typeof named !== "string") throw refuse("A tools/call must name its tool in params.name");
    if (headers.method !== undefined && method !== headers.method)
      throw refuse(`The Mcp-Method header (${headers.method}) does not match the body's method`);
    if (name !== undefined) {
      if (source === undefined)
        throw refuse(`An Mcp-Name header goes only with ${Object.keys(NAME_SOURCE).join(", ")}; not with ${String(method)}`);
      if (named !== name) throw refuse(`The Mcp-Name header (${headers.name}) does not match params.${source} in the body`);
    }
    const claimed = isObject(params) && isObject(params._meta) ? params._meta[PROTOCOL_VERSION_META] : undefined;
    if (headers.protocolVersion !== undefined && typeof claimed === "string" && claimed !== headers.protocolVersion)
      throw refuse(
        `The MCP-Protocol-Version header (${headers.protocolVersion}) does not match the protocol version in the body (${claimed})`,
      );
  }
}

/** The first mapped scope a tools/call in the body needs and the key lacks. */
export function checkToolScopes(body: unknown, granted: readonly string[], toolScopes: Readonly<Record<string, string>>): ToolCheck {
  if (calledTools(body).length === 0) return { ok: true };
  const lacking = lackingCall(body, granted, (tool) => (Object.hasOwn(toolScopes, tool) ? toolScopes[tool] : undefined));
  return lacking ? { ok: false, scope: lacking.scope, tool: lacking.tool } : { ok: true };
}
