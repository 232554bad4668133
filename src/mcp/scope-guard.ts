// Looks at the JSON-RPC body before the MCP server does: a tools/call for a tool whose scope the key
// lacks is answered with HTTP 403 and `WWW-Authenticate: Bearer error="insufficient_scope",
// scope="…"`, so MCP clients can step up (MCP authorization spec, "Scope challenge handling").
// A batch is refused when any call in it lacks its scope. Keyward's own /mcp asks its tool table
// (tools.ts); the gateway (src/gateway/) asks the resource's tool → scope map.
import { requiredScope } from "./tools.js";

/** The scope a tools/call of this tool needs; undefined when it needs none. */
export type ScopeOf = (tool: string) => string | undefined;

/** The first scope the calls in this body need and `granted` lacks; undefined when all is allowed. */
export function missingScope(body: unknown, granted: readonly string[], scopeOf: ScopeOf = requiredScope): string | undefined {
  for (const name of calledTools(body)) {
    const scope = scopeOf(name);
    if (scope && !granted.includes(scope)) return scope;
  }
  return undefined;
}

/** The first call this body makes that `granted` does not allow: the scope it needs and the tool (issue 26: the doctor names it). */
export function lackingCall(
  body: unknown,
  granted: readonly string[],
  scopeOf: ScopeOf = requiredScope,
): { scope: string; tool: string } | undefined {
  for (const tool of calledTools(body)) {
    const scope = scopeOf(tool);
    if (scope && !granted.includes(scope)) return { scope, tool };
  }
  return undefined;
}

/** The tool names the tools/call messages of a JSON-RPC body (one message or a batch) name. */
export function calledTools(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const message of messages) {
    if (!message || typeof message !== "object") continue;
    const { method, params } = message as { method?: unknown; params?: unknown };
    if (method !== "tools/call" || !params || typeof params !== "object") continue;
    const name = (params as { name?: unknown }).name;
    if (typeof name === "string") names.push(name);
  }
  return names;
}
