// OAuth attacks from RFC 9700 (Security BCP): open redirects through redirect_uri tricks,
// mix-up, code injection and PKCE downgrade.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorize, authorizeUrl, authorizeWithPkce, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";

let server: TestServer;
let clientId: string;
let agent: Awaited<ReturnType<typeof signUp>>["agent"];
beforeAll(async () => {
  server = await startTestServer();
  clientId = (await register(server, { redirect_uris: ["http://127.0.0.1:33418/callback", "https://app.example/oauth/cb"] })).body
    .client_id;
  agent = (await signUp(server)).agent;
});
afterAll(async () => server?.close());

describe("open redirect through redirect_uri tricks", () => {
  it.each([
    ["prefix", "https://app.example/oauth/cb.evil.example"],
    ["longer path", "https://app.example/oauth/cb/evil"],
    ["path traversal", "https://app.example/oauth/cb/../../evil"],
    ["encoded traversal", "https://app.example/oauth/%2e%2e/evil"],
    ["userinfo", "https://app.example@evil.example/oauth/cb"],
    ["userinfo on loopback", "http://127.0.0.1:33418@evil.example/callback"],
    ["fragment", "https://app.example/oauth/cb#@evil.example"],
    ["query added", "https://app.example/oauth/cb?next=https://evil.example"],
    ["scheme downgrade", "http://app.example/oauth/cb"],
    ["other host", "https://evil.example/oauth/cb"],
    ["case change", "https://APP.example/oauth/CB"],
    ["loopback host swap", "http://localhost:33418/callback"],
  ])("%s is refused without a redirect", async (_name, redirectUri) => {
    const res = await agent.get(authorizeUrl({ clientId, redirectUri, challenge: pkcePair().challenge, method: "S256" })).redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("invalid_redirect_uri");
    expect(res.text).not.toContain("evil.example/");
  });
});

describe("mix-up, code injection, PKCE downgrade", () => {
  it("every authorization response names this issuer (RFC 9207)", async () => {
    const ok = await authorize(agent, server, { clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" });
    expect(ok.searchParams.get("iss")).toBe(server.url);
    const meta = await request(server.url).get("/.well-known/oauth-authorization-server");
    expect(meta.body.authorization_response_iss_parameter_supported).toBe(true);
  });

  it("a code stolen for one client cannot be redeemed by another, even with the right verifier", async () => {
    const attacker = (await register(server, { client_name: "Attacker", redirect_uris: ["http://127.0.0.1:33418/callback"] })).body
      .client_id as string;
    const { code: stolen, verifier } = await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read" });
    const res = await exchange(server, { clientId: attacker, code: stolen, verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
  });

  it("an injected code fails without the victim's verifier", async () => {
    const victim = pkcePair();
    const back = await authorize(agent, server, { clientId, challenge: victim.challenge, method: "S256", scope: "mcp:read" });
    const res = await exchange(server, { clientId, code: back.searchParams.get("code")!, verifier: pkcePair().verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
  });

  it("PKCE cannot be downgraded: no challenge, plain, or a verifier at the token endpoint alone", async () => {
    for (const p of [{}, { challenge: "abc".repeat(15), method: "plain" }, { challenge: pkcePair().challenge, method: "S512" }]) {
      const res = await follow(agent, server, authorizeUrl({ clientId, ...p }));
      const back = new URL(res.location!).searchParams;
      expect(back.get("error")).toBe("invalid_request");
      expect(back.get("code")).toBeNull();
    }
    const meta = await request(server.url).get("/.well-known/oauth-authorization-server");
    expect(meta.body.code_challenge_methods_supported).toEqual(["S256"]);

    // A verifier at the token endpoint alone (RFC 9700 §4.8.2): a code whose authorization request
    // carried no challenge must not be redeemed because the token request brings a verifier. No
    // such code can be had through /auth (above), so take a real one and strip its stored challenge,
    // as if the attacker had obtained it without PKCE.
    const pkce = pkcePair();
    const code = (
      await authorize(agent, server, { clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" })
    ).searchParams.get("code")!;
    const { db } = server.services;
    const where = { model_id: { model: "AuthorizationCode", id: createHash("sha256").update(code).digest("hex") } };
    const { codeChallenge, codeChallengeMethod, ...withoutChallenge } = JSON.parse(
      (await db.oidcPayload.findUniqueOrThrow({ where })).payload,
    ) as Record<string, unknown>;
    expect([codeChallenge, codeChallengeMethod]).toEqual([pkce.challenge, "S256"]);
    await db.oidcPayload.update({ where, data: { payload: JSON.stringify(withoutChallenge) } });
    const keysBefore = await db.apiKey.count();
    const res = await exchange(server, { clientId, code, verifier: pkce.verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
    expect(res.body.access_token).toBeUndefined();
    expect(await db.apiKey.count()).toBe(keysBefore);
  });

  it("implicit and hybrid response types are not offered", async () => {
    const res = await follow(
      agent,
      server,
      `${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256" })}`.replace("response_type=code", "response_type=token"),
    );
    const to = new URL(res.location!);
    expect(to.searchParams.get("error") ?? new URLSearchParams(to.hash.slice(1)).get("error")).toBe("unsupported_response_type");
  });
});

describe("clickjacking", () => {
  it("log-in and consent pages cannot be framed", async () => {
    const login = await request(server.url).get("/login");
    const fresh = (await register(server, { client_name: "Framed?" })).body.client_id as string; // no consent yet
    const consent = await follow(
      agent,
      server,
      authorizeUrl({ clientId: fresh, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }),
    );
    expect(consent.text).toContain("Allow");
    for (const headers of [login.headers, consent.headers!]) {
      expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(headers["x-frame-options"]).toBe("DENY");
    }
  });
});
