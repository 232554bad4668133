// Operators: blocking a client that arrived as a Client ID Metadata Document (no stored registration,
// only the keys it was issued): its keys fail, its authorization requests fail, unblocking restores.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, authorizeWithPkce, exchange, pkcePair } from "./support/oauth/flow.js";
import { createOperators } from "../src/admin/operators.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
let docs: http.Server;
let clientId: string;
const CLI = { actor: { type: "cli" as const } };
beforeAll(async () => {
  server = await startTestServer({ CIMD_ALLOW_LOOPBACK: "true" });
  docs = http.createServer((req, res) =>
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=300" }).end(
      JSON.stringify({
        client_id: clientId,
        client_name: "Metadata Client",
        redirect_uris: ["http://127.0.0.1:33418/callback"],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code"],
        response_types: ["code"],
      }),
    ),
  );
  await new Promise<void>((r) => docs.listen(0, "127.0.0.1", r));
  clientId = `https://127.0.0.1:${(docs.address() as AddressInfo).port}/client.json`;
}, 60_000);
afterAll(async () => {
  await server?.close();
  docs?.close();
});

it("a metadata-document client blocked: its keys and its authorization requests fail; unblocked: the keys work again", async () => {
  await signUp(server); // the administrator
  const { agent } = await signUp(server);
  const { code, verifier } = await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read" });
  const key = (await exchange(server, { clientId, code, verifier })).body.access_token as string;
  expect((await mcpWhoami(server, key)).status).toBe(200);

  const operators = createOperators(server.services.db, server.services.audit);
  await operators.blockClient(clientId, CLI);
  expect((await mcpWhoami(server, key)).status).toBe(401);
  const again = pkcePair();
  const auth = await agent.get(authorizeUrl({ clientId, challenge: again.challenge, method: "S256", scope: "mcp:read" })).redirects(0);
  expect(auth.status).toBe(400);
  expect(auth.headers.location).toBeUndefined();

  await operators.unblockClient(clientId, CLI);
  expect((await mcpWhoami(server, key)).status).toBe(200);
});
