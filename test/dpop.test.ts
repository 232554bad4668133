// DPoP (RFC 9449), from the attacker's side: a client that sends a DPoP proof to /token gets a key
// bound to its key pair, and that key is useless without a fresh proof signed by that key pair —
// at /mcp, at the JSON API, on every instance. The client is oauth4webapi (a strict DPoP client);
// the attacker's proofs are made by hand with jose.
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oauth from "oauth4webapi";
import request from "supertest";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startServer, type RunningServer } from "../src/server.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { approve, discover, insecure } from "./support/oauth/strict.js";

const REDIRECT_URI = "http://127.0.0.1:47124/callback";
const WHOAMI = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };

let server: TestServer;
let other: RunningServer; // a second instance on the same database, behind the same ISSUER
let as: oauth.AuthorizationServer;
let resource: string;
let user: Awaited<ReturnType<typeof signUp>>;
let client: oauth.Client;
let pair: CryptoKeyPair; // the client's DPoP key pair
let dpop: oauth.DPoPHandle;
let jkt: string;
let key: string; // the DPoP-bound key the client received

const now = () => Math.floor(Date.now() / 1000);
const ath = (raw: string) => createHash("sha256").update(raw).digest("base64url");
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  ath?: string | null;
  typ?: string;
  signer?: CryptoKeyPair;
  /** The JWK put in the header (default: the signer's public key). */
  jwk?: JWK;
}

/** A DPoP proof as a client makes it, for POST /mcp with `key` unless told otherwise. */
async function proof(options: ProofOptions = {}): Promise<string> {
  const signer = options.signer ?? pair;
  const claims: Record<string, unknown> = {
    htm: options.htm ?? "POST",
    htu: options.htu ?? `${server.config.baseUrl}/mcp`,
    iat: options.iat ?? now(),
    jti: options.jti ?? randomUUID(),
  };
  if (options.ath !== null) claims.ath = options.ath ?? ath(key);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: options.typ ?? "dpop+jwt", jwk: options.jwk ?? (await exportJWK(signer.publicKey)) })
    .sign(signer.privateKey);
}

/** POST /mcp tools/call whoami with these headers (supertest: any Host header can be sent). */
function mcp(headers: Record<string, string>, base = server.url) {
  const req = request(base).post("/mcp").set("Accept", "application/json, text/event-stream");
  for (const [name, value] of Object.entries(headers)) req.set(name, value);
  return req.send(WHOAMI);
}

const withProof = async (options: ProofOptions = {}, raw = key) => mcp({ Authorization: `DPoP ${raw}`, DPoP: await proof(options) });

/** A refusal: 401, the JSON error, and a DPoP challenge naming the accepted algorithms. */
function expectRefused(res: request.Response, error: "invalid_token" | "invalid_dpop_proof", description?: RegExp) {
  expect(res.status, res.text).toBe(401);
  expect(res.body.error).toBe(error);
  if (description) expect(res.body.error_description).toMatch(description);
  const challenge = res.headers["www-authenticate"] as string;
  expect(challenge).toMatch(/^DPoP /);
  expect(challenge).toContain('algs="ES256 Ed25519 EdDSA"');
  expect(challenge).toContain(`error="${error}"`);
  expect(JSON.stringify(res.body)).not.toContain(key);
}

/** Authorization code + PKCE through the user's session; the token request with or without the DPoP handle. */
async function obtainKey(withDpop: boolean) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: "code",
    scope: "mcp:read mcp:write",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource,
  }).toString();
  const params = oauth.validateAuthResponse(as, client, await approve(user.agent, server, url), state);
  return oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
    ...insecure,
    additionalParameters: { resource },
    ...(withDpop ? { DPoP: dpop } : {}),
  });
}

beforeAll(async () => {
  server = await startTestServer();
  resource = `${server.url}/mcp`;
  user = await signUp(server);
  as = (await discover(server, "oauth2")).as;
  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: "DPoP client",
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        dpop_bound_access_tokens: true,
      },
      insecure,
    ),
  );
  expect(registered.dpop_bound_access_tokens).toBe(true);
  client = { client_id: registered.client_id, token_endpoint_auth_method: "none" };
  pair = await oauth.generateKeyPair("ES256");
  dpop = oauth.DPoP(client, pair);
  jkt = await dpop.calculateThumbprint();
  const config = loadConfig({
    DATABASE_URL: server.database.url,
    PORT: "0",
    HOST: "127.0.0.1",
    ISSUER: server.config.baseUrl,
    LOG_LEVEL: "silent",
  });
  other = await startServer(config, createLogger("silent"), { migrate: false });
});
afterAll(async () => {
  await other?.stop();
  await server?.close();
});

describe("binding at the token endpoint", () => {
  it("a client registered with dpop_bound_access_tokens gets no key without a proof", async () => {
    const res = await obtainKey(false);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("with a proof: token_type DPoP, and the key row holds the key pair's thumbprint (API field, page badge)", async () => {
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, await obtainKey(true));
    expect(tokens.token_type).toBe("dpop");
    key = tokens.access_token;

    const listed = await user.agent.get("/api/api-keys").expect(200);
    const row = (listed.body.data as { source: string; clientId: string; dpopJkt: string | null }[]).find(
      (k) => k.clientId === client.client_id,
    );
    expect(row).toMatchObject({ source: "oauth", dpopJkt: jkt });
    const page = await user.agent.get("/app/account/api-keys").expect(200);
    expect(page.text).toContain(
      `title="DPoP-bound: works only with a proof signed by the key pair with thumbprint ${jkt}">DPoP-bound</span>`,
    );
  });

  it("introspection reports the binding: token_type DPoP, cnf.jkt (RFC 7662 / RFC 9449 §6.2)", async () => {
    const info = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, oauth.None(), key, insecure),
    );
    expect(info).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt } });
  });

  it("metadata advertises the proof algorithms the resource accepts: the same as the token endpoint's", async () => {
    const prm = await request(server.url).get("/.well-known/oauth-protected-resource/mcp").expect(200);
    expect(prm.body.dpop_signing_alg_values_supported).toEqual(["ES256", "Ed25519", "EdDSA"]);
    expect(as.dpop_signing_alg_values_supported).toEqual(prm.body.dpop_signing_alg_values_supported);
  });
});

describe("a DPoP-bound key at /mcp", () => {
  it("works with a fresh proof on every request (oauth4webapi)", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await oauth.protectedResourceRequest(
        key,
        "POST",
        new URL(resource),
        new Headers({ accept: "application/json, text/event-stream", "content-type": "application/json" }),
        JSON.stringify(WHOAMI),
        { ...insecure, DPoP: dpop },
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { result: { structuredContent: { email: string; keySource: string } } };
      expect(body.result.structuredContent).toMatchObject({ email: user.email, keySource: `OAuth: ${client.client_id}` });
    }
  });

  it("is refused without a proof, as a Bearer token, and as X-API-Key (no downgrade, RFC 9449 §7.2)", async () => {
    expectRefused(await mcp({ Authorization: `DPoP ${key}` }), "invalid_dpop_proof", /exactly one DPoP header/);
    expectRefused(await mcp({ Authorization: `Bearer ${key}` }), "invalid_token", /DPoP-bound/);
    expectRefused(await mcp({ Authorization: `Bearer ${key}`, DPoP: await proof() }), "invalid_token", /DPoP-bound/);
    expectRefused(await mcp({ "X-API-Key": key }), "invalid_token", /DPoP-bound/);
  });

  it("is refused with two proofs, even valid ones", async () => {
    const twice = [await proof(), await proof()] as unknown as string; // Node sends an array as two header lines
    const res = await request(server.url)
      .post("/mcp")
      .set("Accept", "application/json, text/event-stream")
      .set("Authorization", `DPoP ${key}`)
      .set("DPoP", twice)
      .send(WHOAMI);
    expectRefused(res, "invalid_dpop_proof", /exactly one DPoP header/);
  });

  it("is refused with a proof for another method or another URL (htm, htu)", async () => {
    expectRefused(await withProof({ htm: "GET" }), "invalid_dpop_proof", /htm/);
    expectRefused(await withProof({ htu: `${server.config.baseUrl}/api/api-keys` }), "invalid_dpop_proof", /htu/);
    expectRefused(await withProof({ htu: "https://evil.example/mcp" }), "invalid_dpop_proof", /htu/);
    // htu is checked against the ISSUER, never the Host header: a proof made for the attacker's host
    // and sent with that Host is still a proof for another URL.
    expectRefused(
      await mcp({ Host: "evil.example", Authorization: `DPoP ${key}`, DPoP: await proof({ htu: "http://evil.example/mcp" }) }),
      "invalid_dpop_proof",
      /htu/,
    );
    // Query and fragment are ignored (RFC 9449 §4.3).
    expect((await withProof({ htu: `${server.config.baseUrl}/mcp?x=1#y` })).status).toBe(200);
  });

  it("is refused with a stale or future iat", async () => {
    expectRefused(await withProof({ iat: now() - 120 }), "invalid_dpop_proof", /iat/);
    expectRefused(await withProof({ iat: now() + 120 }), "invalid_dpop_proof", /iat/);
  });

  it("is refused when the proof is replayed, on this instance, on another, or in a race", async () => {
    const once = await proof();
    expect((await mcp({ Authorization: `DPoP ${key}`, DPoP: once })).status).toBe(200);
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: once }), "invalid_dpop_proof", /used before/);
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: once }, other.url), "invalid_dpop_proof", /used before/);
    // The other instance accepts a fresh proof: htu is the shared ISSUER's, whichever instance answers.
    expect((await mcp({ Authorization: `DPoP ${key}`, DPoP: await proof() }, other.url)).status).toBe(200);
    // Six requests with one proof at once, on both instances: exactly one gets through.
    const racing = await proof();
    const results = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => mcp({ Authorization: `DPoP ${key}`, DPoP: racing }, i % 2 ? other.url : server.url)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    // What is recorded is a digest: neither the key nor the proof is in the database.
    const stored = (await server.database.contents()).toString("latin1");
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(once);
    expect(server.logs.join("")).not.toContain(once);
  });

  it("is refused with a proof made for another key (ath)", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "some other key");
    expectRefused(await withProof({ ath: ath(portal.raw) }), "invalid_dpop_proof", /ath/);
    expectRefused(await withProof({ ath: null }), "invalid_dpop_proof", /ath/);
  });

  it("is refused with a valid proof signed by another key pair", async () => {
    const attacker = await oauth.generateKeyPair("ES256");
    expectRefused(await withProof({ signer: attacker }), "invalid_token", /not signed by the key pair/);
    // The victim's public key in the header, signed by the attacker's: the signature does not verify.
    expectRefused(await withProof({ signer: attacker, jwk: await exportJWK(pair.publicKey) }), "invalid_dpop_proof", /not a valid/);
  });

  it("is refused with alg none, an HMAC alg (keyed with the public key), a wrong typ, or a private key in the header", async () => {
    const publicJwk = await exportJWK(pair.publicKey);
    const claims = { htm: "POST", htu: `${server.config.baseUrl}/mcp`, iat: now(), jti: randomUUID(), ath: ath(key) };
    const none = `${b64({ alg: "none", typ: "dpop+jwt", jwk: publicJwk })}.${b64(claims)}.`;
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: none }), "invalid_dpop_proof", /not a valid/);
    const hmacKey = new TextEncoder().encode(JSON.stringify(publicJwk));
    const hs256 = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: publicJwk })
      .sign(hmacKey);
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: hs256 }), "invalid_dpop_proof", /not a valid/);
    expectRefused(await withProof({ typ: "JWT" }), "invalid_dpop_proof", /not a valid/);
    const extractable = await generateKeyPair("ES256", { extractable: true });
    expectRefused(
      await withProof({ signer: extractable, jwk: await exportJWK(extractable.privateKey) }),
      "invalid_dpop_proof",
      /not a valid/,
    );
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: "not.a.jwt" }), "invalid_dpop_proof", /not a valid/);
    expect((await withProof()).status).toBe(200); // the key itself is fine
  });
});

describe("junk in the DPoP header", () => {
  it("is a 401 invalid_dpop_proof, never a 5xx", async () => {
    const publicJwk = await exportJWK(pair.publicKey);
    const claims = b64({ htm: "POST", htu: `${server.config.baseUrl}/mcp`, iat: now(), jti: randomUUID(), ath: ath(key) });
    const junk = [
      "",
      "a.b.c",
      "x".repeat(10_000),
      `${b64({ alg: "ES256", typ: "dpop+jwt" })}.${claims}.sig`, // no jwk
      `${b64({ alg: "ES256", typ: "dpop+jwt", jwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" } })}.${claims}.sig`, // not a point
      `${b64({ alg: "ES256", typ: "dpop+jwt", jwk: { kty: "OKP", crv: "Ed25519", x: publicJwk.x } })}.${claims}.sig`, // key type and alg disagree
      `${b64({ alg: "RS256", typ: "dpop+jwt", jwk: { kty: "RSA", n: "AQAB", e: "AQAB" } })}.${claims}.sig`, // alg not accepted
      `${b64({ alg: "ES256", typ: "dpop+jwt", jwk: "string" })}.${claims}.sig`,
      `${b64({ alg: "ES256", typ: "dpop+jwt", jwk: publicJwk })}.${b64({ iat: "now" })}.sig`,
      `${Buffer.from("not json").toString("base64url")}.${claims}.sig`,
    ];
    for (const value of junk) {
      const res = await mcp({ Authorization: `DPoP ${key}`, DPoP: value });
      expect(res.status, `${value.slice(0, 80)}: ${res.text}`).toBe(401);
      expect(res.body.error, value.slice(0, 80)).toBe("invalid_dpop_proof");
    }
    // iat, jti of the wrong type in an otherwise valid, signed proof.
    for (const bad of [{ iat: "1" }, { jti: 42 }, { jti: "" }]) {
      const signed = await new SignJWT({
        htm: "POST",
        htu: `${server.config.baseUrl}/mcp`,
        iat: now(),
        jti: randomUUID(),
        ath: ath(key),
        ...bad,
      } as unknown as JWTPayload)
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: publicJwk })
        .sign(pair.privateKey)
        .catch(() => undefined); // jose may refuse to sign some of these itself
      if (!signed) continue;
      expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: signed }), "invalid_dpop_proof", /not a valid/);
    }
  });
});

describe("keys without a binding", () => {
  it("work as before with Bearer and X-API-Key, a stray DPoP header ignored; the DPoP scheme is refused", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "plain bearer key");
    expect((await mcp({ Authorization: `Bearer ${portal.raw}` })).status).toBe(200);
    expect((await mcp({ "X-API-Key": portal.raw })).status).toBe(200);
    expect((await mcp({ Authorization: `Bearer ${portal.raw}`, DPoP: "junk" })).status).toBe(200);
    const res = await mcp({ Authorization: `DPoP ${portal.raw}`, DPoP: await proof({ ath: ath(portal.raw) }) });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: "invalid_token", error_description: expect.stringMatching(/not DPoP-bound/) });
    expect(res.headers["www-authenticate"]).toMatch(/^DPoP algs="ES256 Ed25519 EdDSA", resource_metadata="[^"]+", error="invalid_token"/);
  });

  it("an unknown key sent with the DPoP scheme gets a DPoP challenge", async () => {
    const res = await mcp({ Authorization: `DPoP kw_user_${"a".repeat(49)}`, DPoP: await proof() });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_token");
    expect(res.headers["www-authenticate"]).toMatch(/^DPoP /);
  });
});

describe("a portal key bound through the JSON API (dpop_jkt)", () => {
  let bound: string;
  const api = (raw: string, headers: Record<string, string>, base = server.url) => {
    const req = request(base).get("/api/api-keys");
    for (const [name, value] of Object.entries({ Authorization: `DPoP ${raw}`, ...headers })) req.set(name, value);
    return req;
  };

  it("mints a key bound to the caller's key pair; a malformed thumbprint is a 400 and mints nothing", async () => {
    const before = (await user.agent.get("/api/api-keys").expect(200)).body.data.length as number;
    const bad = await user.agent.post("/api/api-keys").set("X-CSRF-Token", user.csrf).send({ label: "bad", dpop_jkt: "not-a-thumbprint" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: "invalid_request", error_description: expect.stringMatching(/dpop_jkt/) });
    expect((await user.agent.get("/api/api-keys").expect(200)).body.data.length).toBe(before);

    const res = await user.agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", user.csrf)
      .send({ label: "CI, DPoP-bound", dpop_jkt: jkt })
      .expect(201);
    expect(res.body).toMatchObject({ source: "portal", dpopJkt: jkt });
    bound = res.body.key as string;
  });

  it("the JSON API demands the proof too: Bearer and X-API-Key refused, a proof for GET /api/api-keys accepted", async () => {
    const forApi = (options: ProofOptions = {}) =>
      proof({ htm: "GET", htu: `${server.config.baseUrl}/api/api-keys`, ath: ath(bound), ...options });
    expectRefused(await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${bound}`), "invalid_token", /DPoP-bound/);
    expectRefused(await request(server.url).get("/api/api-keys").set("X-API-Key", bound), "invalid_token", /DPoP-bound/);
    expectRefused(await api(bound, { DPoP: await proof({ ath: ath(bound) }) }), "invalid_dpop_proof", /htm/); // a proof for POST /mcp
    expectRefused(await api(bound, { DPoP: await forApi({ htu: `${server.config.baseUrl}/mcp` }) }), "invalid_dpop_proof", /htu/);
    const ok = await api(bound, { DPoP: await forApi() });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.data.some((k: { dpopJkt: string | null }) => k.dpopJkt === jkt)).toBe(true);
  });

  it("accepts proofs signed with Ed25519 (alg Ed25519 and EdDSA), the other advertised algorithms", async () => {
    const ed = await generateKeyPair("Ed25519");
    const edJkt = await calculateJwkThumbprint(await exportJWK(ed.publicKey));
    const res = await user.agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", user.csrf)
      .send({ label: "Ed25519-bound", dpop_jkt: edJkt })
      .expect(201);
    const raw = res.body.key as string;
    for (const alg of ["Ed25519", "EdDSA"]) {
      const signed = await new SignJWT({ htm: "POST", htu: `${server.config.baseUrl}/mcp`, iat: now(), jti: randomUUID(), ath: ath(raw) })
        .setProtectedHeader({ alg, typ: "dpop+jwt", jwk: await exportJWK(ed.publicKey) })
        .sign(ed.privateKey);
      const ok = await mcp({ Authorization: `DPoP ${raw}`, DPoP: signed });
      expect(ok.status, `${alg}: ${ok.text}`).toBe(200);
    }
  });

  it("and so does /mcp", async () => {
    expectRefused(await mcp({ Authorization: `Bearer ${bound}` }), "invalid_token", /DPoP-bound/);
    expect((await mcp({ Authorization: `DPoP ${bound}`, DPoP: await proof({ ath: ath(bound) }) })).status).toBe(200);
  });

  it("a bound key mints only keys bound to the same key pair: never a bearer key, never another binding", async () => {
    const post = async (body: object) =>
      request(server.url)
        .post("/api/api-keys")
        .set("Authorization", `DPoP ${bound}`)
        .set("DPoP", await proof({ htm: "POST", htu: `${server.config.baseUrl}/api/api-keys`, ath: ath(bound) }))
        .send(body);
    const child = await post({ label: "child", scopes: ["mcp:read"] });
    expect(child.status, child.text).toBe(201);
    expect(child.body.dpopJkt).toBe(jkt); // inherited
    expectRefused(await mcp({ Authorization: `Bearer ${child.body.key}` }), "invalid_token", /DPoP-bound/);
    expect((await mcp({ Authorization: `DPoP ${child.body.key}`, DPoP: await proof({ ath: ath(child.body.key) }) })).status).toBe(200);

    const other = await generateKeyPair("ES256");
    const before = await server.services.db.apiKey.count();
    const rebound = await post({
      label: "elsewhere",
      scopes: ["mcp:read"],
      dpop_jkt: await calculateJwkThumbprint(await exportJWK(other.publicKey)),
    });
    expect(rebound.status).toBe(403);
    expect(rebound.body.error).toBe("insufficient_scope");
    expect(await server.services.db.apiKey.count()).toBe(before);
  });
});

describe("revocation", () => {
  it("a revoked DPoP-bound key fails even with a valid proof, on every instance", async () => {
    expect((await withProof()).status).toBe(200);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), key, insecure));
    expectRefused(await withProof(), "invalid_token", /revoked/);
    expectRefused(await mcp({ Authorization: `DPoP ${key}`, DPoP: await proof() }, other.url), "invalid_token", /revoked/);
  });
});
