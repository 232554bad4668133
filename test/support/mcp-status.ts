// What someone holding a key sees at /mcp: the status of one tools/call (whoami). 200 for a key that
// works, 401 for a revoked, expired or unknown one.
import request from "supertest";
import type { Reachable } from "./server.js";

const WHOAMI = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };

export async function mcpStatus(server: Reachable, raw: string): Promise<number> {
  const res = await request(server.url)
    .post("/mcp")
    .set("Authorization", `Bearer ${raw}`)
    .set("Accept", "application/json, text/event-stream")
    .send(WHOAMI);
  return res.status;
}
