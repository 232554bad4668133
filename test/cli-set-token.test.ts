// `keyward auth set-token` over an earlier `auth login`: the OAuth key the login stored is revoked
// (nothing points at it any more), a pasted key it replaces is left alone, and after `auth logout`
// `auth whoami` says "not logged in" (exit 3). The login's key is obtained with the scripted OAuth
// flow (the same DCR → PKCE → consent → token steps `auth login` takes, without a browser).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialsPath, readCredentials, writeCredentials } from "../src/cli/remote/credentials.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { expectError, keyward } from "./support/cli-run.js";
import { mcpStatus } from "./support/mcp-status.js";

describe("auth set-token after auth login", () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof signUp>>;
  let xdg: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    user = await signUp(server);
    xdg = mkdtempSync(path.join(tmpdir(), "keyward-xdg-set-token-"));
    env = { XDG_CONFIG_HOME: xdg };
  });
  afterAll(async () => {
    await server?.close();
    if (xdg) rmSync(xdg, { recursive: true, force: true });
  });

  /** What `auth login` leaves behind: an OAuth key bound to <server>/mcp, stored with its client id. */
  async function storeLoginKey(): Promise<string> {
    const client = await register(server, { client_name: "Keyward CLI (test)", grant_types: ["authorization_code"] });
    expect(client.status, client.text).toBe(201);
    const clientId = (client.body as { client_id: string }).client_id;
    const resource = `${server.url}/mcp`;
    const { back, code, verifier } = await authorizeWithPkce(user.agent, server, { clientId, resource });
    expect(code, back.href).toBeTruthy();
    const token = await exchange(server, { clientId, code, verifier, resource });
    expect(token.status, token.text).toBe(200);
    const key = (token.body as { access_token: string }).access_token;
    const file = credentialsPath({ XDG_CONFIG_HOME: xdg });
    const data = readCredentials(file);
    data.servers[server.url] = { key, via: "login", clientId, savedAt: new Date().toISOString() };
    data.default = server.url;
    writeCredentials(data, file);
    return key;
  }

  it("revokes the OAuth key of the login it replaces and says so", async () => {
    const loginKey = await storeLoginKey();
    expect(await mcpStatus(server, loginKey)).toBe(200);
    const portal = (await mintOnPage(user.agent, user.csrf, "cli portal")).raw;

    const run = await keyward(["auth", "set-token", "--server", server.url], { env, input: portal });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /Revoked key key_\w+ from your earlier `keyward auth login`|Revoked the key from your earlier `keyward auth login`/,
    );
    expect(await mcpStatus(server, loginKey)).toBe(401);
    expect(await mcpStatus(server, portal)).toBe(200);

    const who = await keyward(["auth", "whoami", "--json"], { env });
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: user.email, keySource: "Portal", tokenFrom: "file" });
  });

  it("leaves a pasted key it replaces alone (it is the user's, not the CLI's)", async () => {
    const first = (await mintOnPage(user.agent, user.csrf, "first")).raw;
    const second = (await mintOnPage(user.agent, user.csrf, "second")).raw;
    expect((await keyward(["auth", "set-token", first, "--server", server.url], { env })).code).toBe(0);
    const run = await keyward(["auth", "set-token", second, "--server", server.url], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/Revoked/);
    expect(await mcpStatus(server, first)).toBe(200);
    expect(await mcpStatus(server, second)).toBe(200);
  });

  it("after auth logout, auth whoami says not logged in (exit 3)", async () => {
    const out = await keyward(["auth", "logout"], { env });
    expect(out.code, out.stderr).toBe(0);
    expectError(await keyward(["auth", "whoami"], { env }), 3, /^keyward: not logged in/);
    expectError(await keyward(["auth", "logout"], { env }), 3, /^keyward: not logged in/);
  });
});
