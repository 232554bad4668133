// Looks at the JSON-RPC body before the MCP SDK does: a tools/call for a tool whose scope the key
// lacks is answered with HTTP 403 and `WWW-Authenticate: Bearer error="insufficient_scope",
// scope="…"`, so MCP clients can step up (MCP authorization spec, "Scope challenge handling").
// A batch is refused when any call in it lacks its scope.
import { requiredScope } from "./tools.js";

/** The first scope the calls in this body need and `granted` lacks; undefined when all is allowed. */
export function missingScope(body: unknown, granted: readonly string[]): string | undefined {
  const messages = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    if (!message || typeof message !== "object") continue;
    const { method, params } = message as { method?: unknown; params?: unknown };
    if (method !== "tools/call" || !params || typeof params !== "object") continue;
    const name = (params as { name?: unknown }).name;
    if (typeof name !== "string") continue;
    const scope = requiredScope(name);
    if (scope && !granted.includes(scope)) return scope;
  }
  return undefined;
}
