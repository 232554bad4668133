// Which path a session-less POST at a stdio resource takes (src/gateway/stdio/index.ts): the gateway
// decides with isLegacyPost(), from Node's headers and the parsed body, without building a web Request;
// it used to ask the MCP SDK's isLegacyRequest() with one. Here the two are asked every combination of
// the headers that predicate reads (MCP-Protocol-Version, Mcp-Method, Mcp-Name: absent, agreeing,
// disagreeing, empty, padded, repeated) and of the bodies it classifies (initialize with and without a
// modern envelope, requests and notifications with a valid, malformed or 2025 claim, responses,
// batches, what is not JSON-RPC), and must give the same answer to each.
import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { isLegacyRequest } from "@modelcontextprotocol/server";
import { isLegacyPost } from "../src/gateway/stdio/index.js";

const MODERN = "2026-07-28";
const ENVELOPE = "io.modelcontextprotocol/protocolVersion";
const envelope = (version: unknown = MODERN) => ({
  [ENVELOPE]: version,
  "io.modelcontextprotocol/clientInfo": { name: "routing", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
});
const request = (method: string, params?: unknown) => ({ jsonrpc: "2.0", id: 1, method, ...(params === undefined ? {} : { params }) });
const notification = (method: string, params?: unknown) => ({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) });

const bodies: Record<string, unknown> = {
  "initialize (2025)": request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } }),
  "initialize without params": request("initialize"),
  "initialize with a modern envelope": request("initialize", { _meta: envelope() }),
  "initialize with a malformed envelope": request("initialize", { _meta: { [ENVELOPE]: MODERN } }),
  "initialize with a 2025 claim": request("initialize", { _meta: envelope("2025-06-18") }),
  "tools/list (2025)": request("tools/list"),
  "tools/list with a modern envelope": request("tools/list", { _meta: envelope() }),
  "tools/list with a non-string claim": request("tools/list", { _meta: envelope(2026) }),
  "tools/list with a claim of an unknown version": request("tools/list", { _meta: envelope("2099-01-01") }),
  "tools/list with _meta but no claim": request("tools/list", { _meta: { progressToken: 1 } }),
  "tools/call with a modern envelope": request("tools/call", { name: "echo", arguments: {}, _meta: envelope() }),
  "server/discover with a modern envelope": request("server/discover", { _meta: envelope() }),
  "server/discover without a claim": request("server/discover"),
  "a request with array params": request("tools/list", []),
  "notifications/initialized": notification("notifications/initialized"),
  "a notification with a modern claim": notification("notifications/cancelled", { requestId: 1, _meta: { [ENVELOPE]: MODERN } }),
  "a notification with a non-string claim": notification("notifications/cancelled", { requestId: 1, _meta: { [ENVELOPE]: 1 } }),
  "a result": { jsonrpc: "2.0", id: 1, result: {} },
  "an error": { jsonrpc: "2.0", id: 1, error: { code: -32601, message: "no" } },
  "an empty batch": [],
  "a batch of 2025 messages": [request("tools/list"), notification("notifications/initialized")],
  "a batch with a modern request": [request("tools/list", { _meta: envelope() })],
  "a batch with something else": [request("tools/list"), 42],
  null: null,
  "a number": 42,
  "a string": "initialize",
  "an empty object": {},
  "an object without a method": { jsonrpc: "2.0", id: 1 },
  "a request of JSON-RPC 1.0": { jsonrpc: "1.0", id: 1, method: "tools/list" },
  "no body": undefined,
};

const versions: Array<string | string[] | undefined> = [
  undefined,
  MODERN,
  "2025-06-18",
  "2025-03-26",
  "",
  ` ${MODERN} `,
  "later",
  [MODERN, "2025-06-18"],
  ["2025-06-18", MODERN],
];
const methods = (body: unknown): Array<string | undefined> => {
  const method = body && typeof body === "object" && "method" in body ? String(body.method) : "initialize";
  return [undefined, method, "tools/call"];
};
const names: Array<string | undefined> = [undefined, "echo"];

async function sdkSays(headers: IncomingHttpHeaders, body: unknown): Promise<boolean> {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) for (const one of [value ?? []].flat()) web.append(name, one);
  return isLegacyRequest(new Request("https://keyward.test/mcp/stdio", { method: "POST", headers: web }), body);
}

describe("isLegacyPost: the MCP SDK's isLegacyRequest() without a web Request", () => {
  it("gives the SDK's answer for every combination of the headers it reads and the bodies it classifies", async () => {
    const differences: string[] = [];
    let legacy = 0;
    let cases = 0;
    for (const [what, body] of Object.entries(bodies)) {
      for (const version of versions)
        for (const method of methods(body))
          for (const name of names) {
            const headers: IncomingHttpHeaders = {
              "content-type": "application/json",
              ...(version === undefined ? {} : { "mcp-protocol-version": version }),
              ...(method === undefined ? {} : { "mcp-method": method }),
              ...(name === undefined ? {} : { "mcp-name": name }),
            };
            const expected = await sdkSays(headers, body);
            const got = isLegacyPost(headers, body);
            cases++;
            if (expected) legacy++;
            if (got !== expected) differences.push(`${what} with ${JSON.stringify(headers)}: SDK ${expected}, gateway ${got}`);
          }
    }
    expect(differences).toEqual([]);
    // Both answers occur, many times each: the table is not one-sided.
    expect(legacy).toBeGreaterThan(100);
    expect(cases - legacy).toBeGreaterThan(100);
  });

  it("the cases the routing turns on", () => {
    const post = (body: unknown, version?: string) => isLegacyPost(version ? { "mcp-protocol-version": version } : {}, body);
    // A 2025 handshake starts a session; with a modern header, or a modern envelope, it is the modern path's.
    expect(post(bodies["initialize (2025)"])).toBe(true);
    expect(post(bodies["initialize (2025)"], MODERN)).toBe(false);
    expect(post(bodies["initialize with a modern envelope"])).toBe(false);
    // A request without the envelope is 2025-era (it needs a session), a malformed claim the modern path's to refuse.
    expect(post(bodies["tools/list (2025)"])).toBe(true);
    expect(post(bodies["tools/list with a modern envelope"], MODERN)).toBe(false);
    expect(post(bodies["tools/list with a non-string claim"])).toBe(false);
    // A notification without a claim: its header decides.
    expect(post(bodies["notifications/initialized"])).toBe(true);
    expect(post(bodies["notifications/initialized"], MODERN)).toBe(false);
  });
});
