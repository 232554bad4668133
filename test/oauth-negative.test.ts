// Every way an authorization can go wrong gets the exact OAuth error.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorize, authorizeUrl, authorizeWithPkce, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { BY_OPERATOR } from "./support/acting.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
let clientId: string;
let session: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  server = await startTestServer();
  clientId = (await register(server)).body.client_id;
  session = await signUp(server);
});
afterAll(async () => server?.close());

const errorOf = (url: URL) => ({
  error: url.searchParams.get("error"),
  description: url.searchParams.get("error_description"),
  iss: url.searchParams.get("iss"),
  state: url.searchParams.get("state"),
});

describe("authorization endpoint refusals", () => {
  it("refuses a request without PKCE (invalid_request, sent back to the client)", async () => {
    const res = await follow(session.agent, server, authorizeUrl({ clientId }));
    const back = errorOf(new URL(res.location!));
    expect(back).toMatchObject({ error: "invalid_request", iss: server.url, state: "st4te" });
    expect(back.description).toMatch(/PKCE/);
  });

  it("refuses plain PKCE", async () => {
    const { verifier } = pkcePair();
    const res = await follow(session.agent, server, authorizeUrl({ clientId, challenge: verifier, method: "plain" }));
    const back = errorOf(new URL(res.location!));
    expect(back.error).toBe("invalid_request");
    expect(back.description).toMatch(/code_challenge_method/);
  });

  it("refuses an unregistered redirect_uri without redirecting to it", async () => {
    const { challenge } = pkcePair();
    const res = await session.agent
      .get(authorizeUrl({ clientId, challenge, method: "S256", redirectUri: "https://attacker.example/cb" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("invalid_redirect_uri");
  });

  it("refuses an unknown client without redirecting", async () => {
    const { challenge } = pkcePair();
    const res = await session.agent.get(authorizeUrl({ clientId: "dcr_doesnotexist", challenge, method: "S256" })).redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("invalid_client");
  });

  it("refuses a resource this server does not protect (invalid_target)", async () => {
    const { challenge } = pkcePair();
    const res = await follow(
      session.agent,
      server,
      authorizeUrl({ clientId, challenge, method: "S256", resource: "https://elsewhere.example/mcp" }),
    );
    expect(errorOf(new URL(res.location!)).error).toBe("invalid_target");
  });

  it("returns access_denied with iss when the user clicks Deny", async () => {
    const { challenge } = pkcePair();
    const back = await authorize(session.agent, server, { clientId, challenge, method: "S256", scope: "mcp:read" }, "Deny");
    expect(errorOf(back)).toMatchObject({ error: "access_denied", iss: server.url, state: "st4te" });
    expect(back.origin + back.pathname).toBe("http://127.0.0.1:33418/callback");
  });
});

describe("token endpoint refusals", () => {
  const codeFor = () => authorizeWithPkce(session.agent, server, { clientId, scope: "mcp:read" });

  it("refuses a wrong code_verifier (invalid_grant)", async () => {
    const { code } = await codeFor();
    const res = await exchange(server, { clientId, code, verifier: pkcePair().verifier });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: "invalid_grant",
      error_description: "code_verifier did not match the code_challenge of the authorization request",
    });
  });

  it("refuses a redirect_uri that differs from the authorization request", async () => {
    const { code, verifier } = await codeFor();
    const res = await exchange(server, { clientId, code, verifier, redirectUri: "http://127.0.0.1:33418/other" });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
    expect(res.body.error_description).toBe("The redirect_uri sent with the code is not the one of the authorization request");
  });

  it("refuses a replayed code and revokes the key the first use produced", async () => {
    const { code, verifier } = await codeFor();
    const first = await exchange(server, { clientId, code, verifier });
    expect(first.status).toBe(200);
    expect((await mcpWhoami(server, first.body.access_token)).status).toBe(200);
    const replay = await exchange(server, { clientId, code, verifier });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    const after = await mcpWhoami(server, first.body.access_token);
    expect(after.status).toBe(401);
    expect(after.headers["www-authenticate"]).toContain('error="invalid_token"');
  });

  it("refuses a code presented by another client", async () => {
    const other = (await register(server, { client_name: "Other" })).body.client_id as string;
    const { code, verifier } = await codeFor();
    const res = await exchange(server, { clientId: other, code, verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
  });

  it("refuses an unknown client at the token endpoint (invalid_client)", async () => {
    const res = await exchange(server, { clientId: "dcr_nope", code: "x", verifier: pkcePair().verifier });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
  });
});

describe("/mcp and the key's resource", () => {
  it("refuses a key bound to another resource", async () => {
    const minted = await server.services.keys.mint(
      {
        userId: (await server.services.users.findByEmail(session.email))!.id,
        label: "elsewhere",
        source: "oauth",
        clientId,
        resources: ["https://elsewhere.example/mcp"],
      },
      BY_OPERATOR,
    );
    const res = await mcpWhoami(server, minted.raw);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(res.body.error_description).toBe(
      `The key was issued for another resource: the client asked for resource https://elsewhere.example/mcp but is calling ${server.url}/mcp`,
    );
  });

  it("accepts a key bound to /mcp", async () => {
    const { back, code, verifier } = await authorizeWithPkce(session.agent, server, {
      clientId,
      resource: `${server.url}/mcp`,
    });
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status, `${back} ${token.text}`).toBe(200);
    const hash = createHash("sha256").update(token.body.access_token).digest("hex");
    const row = await server.services.db.apiKey.findUnique({ where: { hash } });
    expect(row?.resource).toBe(`${server.url}/mcp`);
    expect((await mcpWhoami(server, token.body.access_token)).status).toBe(200);
  });
});
