// Secret scanning: POST /api/secret-scanning/report (GitHub partner-program shape) revokes reported
// keys and records it in the audit trail; reports must be signed (shared-secret HMAC or ECDSA with a
// configured public key); without configuration the endpoint does not exist. And `keyward keys check`.
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { generateKey } from "../src/keys/format.js";
import { hmacSignature } from "../src/secret-scanning/signature.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward } from "./support/cli-run.js";
import { mcpStatus } from "./support/mcp-status.js";

const SECRET = "s3cret-scanning-shared-secret-0123456789";
const PATH = "/api/secret-scanning/report";
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const otherEc = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("secret scanning report endpoint", () => {
  let server: TestServer;
  let plain: TestServer;
  let user: Awaited<ReturnType<typeof signUp>>;

  beforeAll(async () => {
    [server, plain] = await Promise.all([
      startTestServer({
        SECRET_SCANNING_SECRET: SECRET,
        // As an env var usually carries it: one line with \n escapes.
        SECRET_SCANNING_PUBLIC_KEYS: ec.publicKey.export({ type: "spki", format: "pem" }).toString().replace(/\n/g, "\\n"),
      }),
      startTestServer(),
    ]);
    user = await signUp(server);
  });
  afterAll(async () => {
    await server?.close();
    await plain?.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    request(server.url).post(PATH).set("Content-Type", "application/json").set(headers).send(body);

  it("does not exist without configuration", async () => {
    const body = JSON.stringify([
      { token: generateKey("kw_user_"), type: "keyward_api_key", url: "https://example.com", source: "content" },
    ]);
    const res = await request(plain.url)
      .post(PATH)
      .set("Content-Type", "application/json")
      .set("X-Keyward-Signature", hmacSignature(SECRET, Buffer.from(body)))
      .send(body);
    expect(res.status).toBe(404);
  });

  it("refuses unsigned and wrongly signed reports (401) and revokes nothing", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "unsigned");
    const body = JSON.stringify([{ token: raw, type: "keyward_api_key", url: "https://example.com/x", source: "content" }]);
    expect((await post(body)).status).toBe(401);
    expect(
      (await post(body, { "X-Keyward-Signature": hmacSignature("another-secret-of-sufficient-length!!", Buffer.from(body)) })).status,
    ).toBe(401);
    expect((await post(body, { "X-Keyward-Signature": hmacSignature(SECRET, Buffer.from(`${body} `)) })).status).toBe(401);
    const wrongEc = sign("sha256", Buffer.from(body), otherEc.privateKey).toString("base64");
    expect((await post(body, { "Github-Public-Key-Identifier": "x", "Github-Public-Key-Signature": wrongEc })).status).toBe(401);
    expect(await mcpStatus(server, raw)).toBe(200);
  });

  it("revokes a reported key (HMAC): true_positive, the next /mcp call is 401, the audit trail names secret scanning", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "leaked");
    expect(await mcpStatus(server, raw)).toBe(200);
    const unknown = generateKey("kw_user_");
    const report = [
      { token: raw, type: "keyward_api_key", url: "https://github.com/acme/app/blob/abc/.env", source: "content" },
      { token: unknown, type: "keyward_api_key", url: "https://github.com/acme/app/blob/abc/x", source: "content" },
      { token: "kw_user_notakeyatall", type: "keyward_api_key", url: "https://github.com/acme/app/blob/abc/y", source: "commit" },
    ];
    const body = JSON.stringify(report);
    const res = await post(body, { "X-Keyward-Signature": hmacSignature(SECRET, Buffer.from(body)) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { token_hash: sha256(raw), token_type: "keyward_api_key", label: "true_positive" },
      { token_hash: sha256(unknown), token_type: "keyward_api_key", label: "false_positive" },
      { token_hash: sha256("kw_user_notakeyatall"), token_type: "keyward_api_key", label: "false_positive" },
    ]);
    expect(res.text).not.toContain(raw);
    expect(await mcpStatus(server, raw)).toBe(401);

    const owner = (await server.services.users.findByEmail(user.email))!;
    const key = (await server.services.keys.list(owner.id)).find((k) => k.label === "leaked")!;
    expect(key.status).toBe("revoked");
    const events = await server.services.audit.listForUser(owner.id);
    const event = events.find((e) => e.targetId === key.id && e.actorType === "secret_scanning");
    expect(event).toMatchObject({
      action: "key.revoked",
      actorId: "content",
      details: { reason: "leaked", url: "https://github.com/acme/app/blob/abc/.env" },
    });
    expect(JSON.stringify(events)).not.toContain(raw);

    // Reported again: still a true positive, recorded as a report on a revoked key.
    const again = await post(JSON.stringify([report[0]]), {
      "X-Keyward-Signature": hmacSignature(SECRET, Buffer.from(JSON.stringify([report[0]]))),
    });
    expect(again.body).toEqual([{ token_hash: sha256(raw), token_type: "keyward_api_key", label: "true_positive" }]);
    expect(
      (await server.services.audit.listForUser(owner.id)).filter((e) => e.targetId === key.id && e.action === "key.leak_reported"),
    ).toHaveLength(1);

    // No reported token reached the logs.
    const logs = server.logs.join("");
    for (const r of report) expect(logs).not.toContain(r.token);
  });

  it("accepts GitHub's ECDSA signature against a configured public key", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "leaked on github");
    const body = JSON.stringify([{ token: raw, type: "keyward_api_key", url: "https://gist.github.com/x", source: "gist" }]);
    const signature = sign("sha256", Buffer.from(body), ec.privateKey).toString("base64");
    const res = await post(body, { "Github-Public-Key-Identifier": "abc", "Github-Public-Key-Signature": signature });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ token_hash: sha256(raw), token_type: "keyward_api_key", label: "true_positive" }]);
    expect(await mcpStatus(server, raw)).toBe(401);
  });

  it("answers bad signed input with a 400, never a 500, and revokes nothing", async () => {
    for (const body of ["not json", "{}", "[]", JSON.stringify([{ type: "x" }]), JSON.stringify([{ token: 5 }])]) {
      const res = await post(body, { "X-Keyward-Signature": hmacSignature(SECRET, Buffer.from(body)) });
      expect(res.status, body).toBe(400);
      expect(res.body.error).toBe("invalid_request");
    }
    expect((await request(server.url).get(PATH)).status).toBe(405);
  });

  it("refuses a bad configuration at start", async () => {
    const { loadConfig } = await import("../src/config.js");
    expect(() => loadConfig({ SECRET_SCANNING_SECRET: "short" })).toThrow(/SECRET_SCANNING_SECRET must be at least 32/);
    expect(() => loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: "garbage" })).toThrow(/SECRET_SCANNING_PUBLIC_KEYS no -----BEGIN PUBLIC KEY/);
  });
});

describe("keyward keys check", () => {
  it("exit 0 for a valid key, 2 with the reason for an invalid one, offline", async () => {
    const raw = generateKey("kw_user_");
    const ok = await keyward(["keys", "check", raw]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^valid/);
    expect(ok.stdout).not.toContain(raw);
    const fromStdin = await keyward(["keys", "check"], { input: `${raw}\n` });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);

    const typo = raw.slice(0, 20) + (raw[20] === "a" ? "b" : "a") + raw.slice(21);
    expectError(await keyward(["keys", "check", typo]), 2, /invalid key: the checksum does not match/);
    expectError(await keyward(["keys", "check", "ghp_abc"]), 2, /invalid key: wrong length/);
    expectError(await keyward(["keys", "check", "hello"]), 2, /invalid key: no Keyward key prefix/);
  });
});
