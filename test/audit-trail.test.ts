// The audit trail: every account and key event is recorded once, at its call site, with the right
// actor, IP and user agent, and shown on /app/account/audit. The table is append-only.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { SECURITY, codeStep, enableTwoFactor, passwordStep } from "./support/security.js";
import type { AuditEventView } from "../src/audit/index.js";
import { keyward as keywardCli } from "./support/cli-run.js";
import { sourceFiles } from "./support/source-files.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const UA = "AuditTest/1.0 (keyward)";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

/** The CLI (test/support/cli-run.ts: a clean environment) on the test server's database. */
function keyward(args: string[]) {
  return keywardCli(args, { env: { DATABASE_URL: server.database.url } });
}

describe("the audit trail", () => {
  it("records every event once, with the right actor, and shows it on the activity page", async () => {
    const user = await signUp(server);
    const events = () => server.services.audit.listForUser(userId, { limit: 500 });
    const userId = (await server.services.users.findByEmail(user.email))!.id;
    const signUpEvents = new Set((await events()).map((e) => e.id)); // sign-up is followed by a log-in
    const only = async (action: string, where: (e: AuditEventView) => boolean = () => true) => {
      const found = (await events()).filter((e) => !signUpEvents.has(e.id) && e.action === action && where(e));
      expect(found, `${action}: ${JSON.stringify(found)}`).toHaveLength(1);
      return found[0]!;
    };
    const before = await server.services.db.auditEvent.count();

    // Portal key: minted and revoked on the page.
    const page = await user.agent
      .post("/app/account/api-keys")
      .set("User-Agent", UA)
      .type("form")
      .send({ _csrf: user.csrf, label: "page key" })
      .redirects(1)
      .expect(200);
    const pageKeyId = /data-key-id="(key_[^"]+)"/.exec(page.text)![1]!;
    await user.agent
      .post(`/app/account/api-keys/${pageKeyId}/revoke`)
      .set("User-Agent", UA)
      .type("form")
      .send({ _csrf: user.csrf })
      .expect(303);
    // idempotent: not recorded twice
    await user.agent.post(`/app/account/api-keys/${pageKeyId}/revoke`).type("form").send({ _csrf: user.csrf }).expect(303);
    const pageMint = await only("key.minted", (e) => e.targetId === pageKeyId);
    expect(pageMint.actorType).toBe("user");
    expect(pageMint.actorId).toBe(userId);
    expect(pageMint.details).toMatchObject({ label: "page key", via: "page" });
    expect(pageMint.ip).toMatch(/127\.0\.0\.1/);
    expect(pageMint.userAgent).toBe(UA);
    const pageRevoke = await only("key.revoked", (e) => e.targetId === pageKeyId);
    expect([pageRevoke.actorType, pageRevoke.actorId, pageRevoke.details.via]).toEqual(["user", userId, "page"]);
    expect(pageRevoke.userAgent).toBe(UA);

    // JSON API, authenticated by a key: the key is the actor.
    const { raw: apiKey } = await mintOnPage(user.agent, user.csrf, "script key");
    const scriptKeyId = (await server.services.keys.verify(apiKey)).ok
      ? ((await server.services.keys.verify(apiKey)) as { key: { id: string } }).key.id
      : "";
    const created = await request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${apiKey}`)
      .set("User-Agent", UA)
      .send({ label: "via api" })
      .expect(201);
    await request(server.url).delete(`/api/api-keys/${created.body.id}`).set("Authorization", `Bearer ${apiKey}`).expect(200);
    const apiMint = await only("key.minted", (e) => e.targetId === created.body.id);
    expect([apiMint.actorType, apiMint.actorId, apiMint.details.via]).toEqual(["api_key", scriptKeyId, "api"]);
    expect(apiMint.details).not.toHaveProperty("key");
    expect(JSON.stringify(await events())).not.toContain(created.body.key);
    const apiRevoke = await only("key.revoked", (e) => e.targetId === created.body.id);
    expect([apiRevoke.actorType, apiRevoke.actorId, apiRevoke.details.via]).toEqual(["api_key", scriptKeyId, "api"]);

    // CLI on the server.
    const cliCreate = await keyward(["api-keys", "create", "cli key", "--user", user.email, "--json"]);
    expect(cliCreate.code, cliCreate.stderr).toBe(0);
    const cliKeyId = (JSON.parse(cliCreate.stdout) as { id: string }).id;
    expect((await keyward(["api-keys", "revoke", cliKeyId, "--user", user.email])).code).toBe(0);
    expect((await keyward(["api-keys", "revoke", cliKeyId, "--user", user.email])).code).toBe(0); // already revoked: no event
    const cliMint = await only("key.minted", (e) => e.targetId === cliKeyId);
    expect([cliMint.actorType, cliMint.actorId, cliMint.details.via, cliMint.ip]).toEqual(["cli", null, "cli", null]);
    const cliRevoke = await only("key.revoked", (e) => e.targetId === cliKeyId);
    expect([cliRevoke.actorType, cliRevoke.details.via]).toEqual(["cli", "cli"]);

    // OAuth: consent (the user), the key (the client), RFC 7009 revocation (the client).
    const client = (await register(server, { client_name: "Audit client" })).body as { client_id: string };
    const consented = await authorizeWithPkce(user.agent, server, { clientId: client.client_id, scope: "mcp:read" });
    const token = await exchange(server, { clientId: client.client_id, code: consented.code, verifier: consented.verifier });
    expect(token.status).toBe(200);
    const oauthKey = await server.services.keys.verify(token.body.access_token as string);
    if (!oauthKey.ok) throw new Error("OAuth key does not verify");
    const authorized = await only("oauth.authorized", (e) => e.targetId === client.client_id);
    expect([authorized.actorType, authorized.actorId, authorized.details.clientName]).toEqual(["user", userId, "Audit client"]);
    const oauthMint = await only("key.minted", (e) => e.targetId === oauthKey.key.id);
    expect([oauthMint.actorType, oauthMint.actorId, oauthMint.details.source]).toEqual(["oauth_client", client.client_id, "oauth"]);
    await request(server.url)
      .post("/token/revocation")
      .set("User-Agent", UA)
      .type("form")
      .send({ token: token.body.access_token, client_id: client.client_id })
      .expect(200);
    expect((await server.services.keys.verify(token.body.access_token as string)).ok).toBe(false);
    const oauthRevoke = await only("key.revoked", (e) => e.targetId === oauthKey.key.id);
    expect([oauthRevoke.actorType, oauthRevoke.actorId, oauthRevoke.details.via, oauthRevoke.userAgent]).toEqual([
      "oauth_client",
      client.client_id,
      "oauth_revocation",
      UA,
    ]);

    // Connected apps: disconnect revokes the app's keys, by the user.
    const again = await authorizeWithPkce(user.agent, server, { clientId: client.client_id, scope: "mcp:read" });
    const token2 = await exchange(server, { clientId: client.client_id, code: again.code, verifier: again.verifier });
    const key2 = await server.services.keys.verify(token2.body.access_token as string);
    if (!key2.ok) throw new Error("second OAuth key does not verify");
    const apps = await user.agent.get("/app/account/connected-apps").expect(200);
    await user.agent
      .post(`/app/account/connected-apps/${encodeURIComponent(client.client_id)}/disconnect`)
      .type("form")
      .send({ _csrf: csrfFrom(apps.text), confirm: "yes" })
      .expect(303);
    const disconnectRevoke = await only("key.revoked", (e) => e.targetId === key2.key.id);
    expect([disconnectRevoke.actorType, disconnectRevoke.actorId, disconnectRevoke.details.via]).toEqual([
      "user",
      userId,
      "connected_apps",
    ]);
    await only("oauth.disconnected", (e) => e.targetId === client.client_id);

    // Log-in, failed log-in (the account's trail; an unknown email records nothing anywhere).
    const nullBefore = await server.services.db.auditEvent.count({ where: { userId: null } });
    expect((await passwordStep(server, user.email, "wrong password")).res.status).toBe(401);
    expect((await passwordStep(server, uniqueEmail("ghost"), "wrong password")).res.status).toBe(401);
    expect(await server.services.db.auditEvent.count({ where: { userId: null } })).toBe(nullBefore);
    const failed = await only("login.failed");
    expect([failed.actorType, failed.actorId, failed.details.reason]).toEqual(["user", null, "password"]);
    const good = await passwordStep(server, user.email, user.password);
    expect(good.res.status).toBe(303);
    const login = await only("login.succeeded");
    expect([login.actorType, login.actorId, login.details.method]).toEqual(["user", userId, "password"]);

    // 2FA: enabled, a wrong code, a backup code, disabled.
    const { backupCodes } = await enableTwoFactor(user.agent);
    expect((await only("2fa.enabled")).actorId).toBe(userId);
    const second = await passwordStep(server, user.email, user.password);
    expect((await codeStep(second.agent, "999999")).status).toBe(401);
    expect((await only("login.failed", (e) => e.details.reason === "second_factor")).actorId).toBeNull();
    expect((await codeStep(second.agent, backupCodes[0]!)).status).toBe(303);
    const used = await only("2fa.backup_code_used");
    expect([used.actorType, used.actorId, used.details.backupCodesLeft]).toEqual(["user", userId, 9]);
    expect((await only("login.succeeded", (e) => e.details.method === "password+backup_code")).actorId).toBe(userId);
    await user.agent.post(`${SECURITY}/2fa/disable`).type("form").send({ _csrf: user.csrf, password: user.password }).expect(303);
    expect((await only("2fa.disabled")).actorId).toBe(userId);

    // Password changed; signed out everywhere.
    await user.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: user.csrf, current_password: user.password, new_password: "another good pw", confirm_password: "another good pw" })
      .expect(303);
    const changed = await only("password.changed");
    expect([changed.actorId, changed.details.otherSessionsEnded]).toEqual([userId, 2]); // the password-only and the 2FA log-ins above
    const activity = await user.agent.get("/app/account/audit").set("User-Agent", UA).expect(200);
    await user.agent.post(`${SECURITY}/sessions/sign-out-everywhere`).type("form").send({ _csrf: user.csrf }).expect(303);
    expect((await only("sessions.signed_out_everywhere")).details.sessionsEnded).toBe(1);

    // The activity page lists them, with IP and user agent.
    for (const action of [
      "key.minted",
      "key.revoked",
      "oauth.authorized",
      "login.succeeded",
      "login.failed",
      "2fa.enabled",
      "2fa.backup_code_used",
      "2fa.disabled",
      "password.changed",
    ]) {
      expect(activity.text).toContain(`data-action="${action}"`);
    }
    expect(activity.text).toContain('data-actor="oauth_client"');
    expect(activity.text).toContain('data-actor="api_key"');
    expect(activity.text).toContain('data-actor="cli"');
    expect(activity.text).toContain(UA);
    expect(activity.text).toContain("Failed log-in");
    expect(await server.services.db.auditEvent.count()).toBeGreaterThan(before);
  }, 90_000); // three CLI processes: ~27 s alone, over the default 30 s when other test files share the cores

  it("is private: another user's trail shows none of these events", async () => {
    const a = await signUp(server);
    await mintOnPage(a.agent, a.csrf, "private label xyz");
    const b = await signUp(server);
    const page = await b.agent.get("/app/account/audit").expect(200);
    expect(page.text).not.toContain("private label xyz");
    expect(page.text).not.toContain('data-action="key.minted"');
    const anon = await request(server.url).get("/app/account/audit").expect(302);
    expect(anon.headers.location).toBe("/login?return_to=%2Fapp%2Faccount%2Faudit");
  });
});

describe("append-only", () => {
  it("the audit module can only add and read events", () => {
    expect(Object.keys(server.services.audit).sort()).toEqual(["listForUser", "record", "recordAll"]);
    const dir = path.join(root, "src", "audit");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(path.join(dir, file), "utf8");
      expect(text, file).not.toMatch(/\.(update|updateMany|upsert|delete|deleteMany)\(|\$executeRaw|\$queryRaw/);
    }
  });

  it("no code anywhere updates or deletes an audit row", () => {
    const offenders = sourceFiles()
      .filter(
        ({ text }) =>
          /auditEvent\s*\.\s*(update|updateMany|upsert|delete|deleteMany)\b/.test(text) ||
          /(UPDATE|DELETE\s+FROM)\s+"?AuditEvent/i.test(text),
      )
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  it("rows only ever grow: earlier events stay exactly as written", async () => {
    const user = await signUp(server);
    const userId = (await server.services.users.findByEmail(user.email))!.id;
    await mintOnPage(user.agent, user.csrf, "first");
    const snapshot = await server.services.db.auditEvent.findMany({ where: { userId }, orderBy: { id: "asc" } });
    expect(snapshot.length).toBeGreaterThan(0);
    let count = await server.services.db.auditEvent.count();
    for (const step of [
      () => mintOnPage(user.agent, user.csrf, "second"),
      () => passwordStep(server, user.email, "wrong password"),
      () =>
        user.agent.post(`${SECURITY}/password`).type("form").send({
          _csrf: user.csrf,
          current_password: user.password,
          new_password: "changed password",
          confirm_password: "changed password",
        }),
    ]) {
      await step();
      const next = await server.services.db.auditEvent.count();
      expect(next).toBeGreaterThan(count);
      count = next;
    }
    const later = await server.services.db.auditEvent.findMany({
      where: { id: { in: snapshot.map((r) => r.id) } },
      orderBy: { id: "asc" },
    });
    expect(later).toEqual(snapshot);
  });
});
