// Who a key belongs to, asked of /mcp's read-only `whoami` tool. /mcp accepts every valid key —
// portal keys and the OAuth keys `auth login` receives (bound to <server>/mcp) — so one call serves
// both, and the JSON API's rule (keys bound to /mcp cannot manage keys) stays as it is.
import { z } from "zod";
import { CliError } from "../errors.js";
import { bearer, call, failure } from "./client.js";

const identitySchema = z.looseObject({
  email: z.string(),
  userId: z.string(),
  keyId: z.string(),
  keySource: z.string(),
  scopes: z.array(z.string()),
});

export type Identity = z.infer<typeof identitySchema>;

const rpcResponse = z.looseObject({
  result: z.looseObject({ structuredContent: z.unknown().optional(), isError: z.boolean().optional() }).optional(),
  error: z.looseObject({ message: z.string() }).optional(),
});

/** A JSON-RPC reply, sent as JSON or as one server-sent event. */
function parseRpc(text: string, contentType: string): unknown {
  if (contentType.includes("text/event-stream")) {
    const data = text
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trim())
      .join("");
    return JSON.parse(data);
  }
  return JSON.parse(text);
}

export async function whoami(server: string, key: string): Promise<Identity> {
  const res = await call(server, "/mcp", {
    method: "POST",
    headers: { ...bearer(key), Accept: "application/json, text/event-stream", "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });
  if (!res.ok) throw await failure(res, "whoami");
  let reply: z.infer<typeof rpcResponse>;
  try {
    reply = rpcResponse.parse(parseRpc(await res.text(), res.headers.get("content-type") ?? ""));
  } catch {
    throw new CliError(`whoami: ${server}/mcp did not answer like a Keyward server`);
  }
  if (reply.error || !reply.result || reply.result.isError)
    throw new CliError(`whoami: the server refused: ${reply.error?.message ?? "tool error"}`);
  const identity = identitySchema.safeParse(reply.result.structuredContent);
  if (!identity.success) throw new CliError(`whoami: ${server}/mcp did not answer like a Keyward server`);
  return identity.data;
}
