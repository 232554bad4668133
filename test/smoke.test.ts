import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./support/server.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

describe("smoke", () => {
  it("serves the landing page and mints a key that works at /mcp", async () => {
    const home = await request(server.url).get("/").expect(200);
    expect(home.text).toContain("Keyward");
    const { agent, csrf } = await signUp(server);
    const { raw } = await mintOnPage(agent, csrf);
    expect(raw).toMatch(/^kw_user_[0-9A-Za-z]{49}$/);
    const res = await mcpWhoami(server, raw);
    expect(res.status).toBe(200);
  });
});
