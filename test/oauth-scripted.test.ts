import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

describe("OAuth scripted flow", () => {
  it("registers, authorizes, exchanges and calls /mcp with the key", async () => {
    const reg = await register(server);
    expect(reg.status, reg.text).toBe(201);
    const clientId = reg.body.client_id as string;
    expect(clientId).toMatch(/^dcr_/);
    const { agent } = await signUp(server);
    const { back, code, verifier } = await authorizeWithPkce(agent, server, {
      clientId,
      scope: "mcp:read mcp:write",
      resource: `${server.url}/mcp`,
    });
    expect(back.searchParams.get("iss")).toBe(server.url);
    expect(code, back.toString()).toBeTruthy();
    const token = await exchange(server, { clientId, code, verifier, resource: `${server.url}/mcp` });
    expect(token.status, token.text).toBe(200);
    expect(token.body.token_type).toBe("Bearer");
    expect(token.body.refresh_token).toBeUndefined();
    expect(token.body.access_token).toMatch(/^kw_user_/);
    const mcp = await mcpWhoami(server, token.body.access_token);
    expect(mcp.status, mcp.text).toBe(200);
    expect(mcp.text).toContain(`OAuth: ${clientId}`);
  });
});
