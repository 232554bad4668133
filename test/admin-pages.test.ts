// Operators (issue 29, docs/operators.md): the admin pages. The first account is the instance's
// administrator; nobody else sees the pages (the same 404 as a missing page, on every spelling and
// method); the admin finds a user, sees what they hold, disables them (keys refused at once, sessions
// ended, no log-in), enables them again, resets 2FA, blocks and unblocks an OAuth client, and reads
// the instance-wide audit trail with filters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, pkcePair, register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
let admin: Person;
let alice: Person;
let aliceId: string;

beforeAll(async () => {
  server = await startTestServer();
  admin = await signUp(server); // the first account of a fresh instance: its administrator
  alice = await signUp(server);
  aliceId = (await server.services.users.findByEmail(alice.email))!.id;
}, 60_000);
afterAll(async () => server?.close());

const ROUTES: [method: "get" | "post", path: string][] = [
  ["get", "/admin"],
  ["get", "/admin/users"],
  ["get", "/admin/users?q=a"],
  ["get", "/admin/clients"],
  ["get", "/admin/resources"],
  ["get", "/admin/audit"],
  ["post", "/admin/clients/block"],
  ["post", "/admin/clients/unblock"],
];
const userRoutes = (id: string): [method: "get" | "post", path: string][] => [
  ["get", `/admin/users/${id}`],
  ...["disable", "enable", "reset-2fa", "grant-admin", "revoke-admin"].map((a): ["post", string] => ["post", `/admin/users/${id}/${a}`]),
];
const variants = (path: string) => [path, `${path}/`, path.toUpperCase(), path.replace("/admin", "/Admin"), `${path}?x=1`];

describe("who is an administrator", () => {
  it("the first account is; the nav links the admin pages for it only", async () => {
    expect((await server.services.db.user.findUniqueOrThrow({ where: { email: admin.email } })).isAdmin).toBe(true);
    expect((await server.services.db.user.findUniqueOrThrow({ where: { email: alice.email } })).isAdmin).toBe(false);
    expect((await admin.agent.get("/app/account/api-keys").expect(200)).text).toContain('href="/admin"');
    expect((await alice.agent.get("/app/account/api-keys").expect(200)).text).not.toContain('href="/admin"');
  });

  it("anyone else gets exactly the 404 of a missing page, on every route, method and spelling", async () => {
    const missing = await alice.agent.get("/admin/nothing-here").expect(404);
    const anonymousMissing = await request(server.url).get("/admin/nothing-here").expect(404);
    const adminId = (await server.services.users.findByEmail(admin.email))!.id;
    for (const [method, path] of [...ROUTES, ...userRoutes(adminId), ...userRoutes(aliceId)]) {
      for (const p of variants(path)) {
        const asAlice = await alice.agent[method](p)
          .type("form")
          .send(method === "post" ? { _csrf: alice.csrf, client_id: "x" } : {});
        expect([p, asAlice.status]).toEqual([p, 404]);
        expect(asAlice.text).toBe(missing.text);
        const anonymous = await request(server.url)[method](p);
        expect([p, anonymous.status]).toEqual([p, 404]);
        expect(anonymous.text).toBe(anonymousMissing.text);
      }
      // Other methods do not tell the route exists either (no 405 with Allow).
      const put = await alice.agent.put(path).send({});
      expect(put.status).toBe(404);
    }
    // JSON clients get the same JSON 404.
    const json = await request(server.url).get("/admin/users").set("Accept", "application/json").expect(404);
    expect(json.body).toEqual((await request(server.url).get("/admin/nope").set("Accept", "application/json").expect(404)).body);
    // Nothing changed for the admin.
    expect((await server.services.db.user.findUniqueOrThrow({ where: { id: adminId } })).isAdmin).toBe(true);
    expect((await server.services.db.user.findUniqueOrThrow({ where: { id: aliceId } })).disabledAt).toBeNull();
  });

  it("admin route variants work for the admin", async () => {
    for (const p of ["/admin/users", "/admin/users/", "/ADMIN/USERS", "/admin/clients", "/admin/resources", "/admin/audit"])
      expect([p, (await admin.agent.get(p)).status]).toEqual([p, 200]);
    expect((await admin.agent.get("/admin").redirects(0)).headers.location).toBe("/admin/users");
  });
});

describe("users", () => {
  it("searches by email, paginates, and shows a user's keys (escaped), organisations and 2FA status", async () => {
    // Part of the email, in another case.
    const page = await admin.agent.get(`/admin/users?q=${encodeURIComponent(alice.email.slice(2, -8).toUpperCase())}`).expect(200);
    expect(page.text).toContain(`>${alice.email}</a>`);
    expect(page.text).not.toContain(`>${admin.email}</a>`); // (the nav names the admin; the list does not)
    expect((await admin.agent.get("/admin/users").expect(200)).text).toContain(`>${admin.email}</a>`);
    expect((await admin.agent.get("/admin/users?q=nobody-matches-this").expect(200)).text).toContain("No user matches.");
    expect((await admin.agent.get("/admin/users?page=0").expect(400)).status).toBe(400);
    await mintOnPage(alice.agent, alice.csrf, `<script>alert(1)</script>`);
    const detail = await admin.agent.get(`/admin/users/${aliceId}`).expect(200);
    expect(detail.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(detail.text).not.toContain("<script>alert(1)</script>");
    expect(detail.text).toContain("Personal");
    expect(detail.text).toContain("two-factor off");
    // A missing or ill-formed id: the same 404 as a missing page.
    await admin.agent.get("/admin/users/usr_00000000000000000000000000000000").expect(404);
    await admin.agent.get("/admin/users/nope").expect(404);
  });

  it("disable: CSRF required; then keys refused at once, sessions ended, no log-in; enable brings the keys back", async () => {
    const bob = await signUp(server);
    const bobId = (await server.services.users.findByEmail(bob.email))!.id;
    const key = (await mintOnPage(bob.agent, bob.csrf, "bob's")).raw;
    expect((await mcpWhoami(server, key)).status).toBe(200);

    await admin.agent.post(`/admin/users/${bobId}/disable`).type("form").send({}).expect(403);
    await admin.agent.post(`/admin/users/${bobId}/disable`).type("form").send({ _csrf: "wrong" }).expect(403);
    expect((await mcpWhoami(server, key)).status).toBe(200);

    await admin.agent.post(`/admin/users/${bobId}/disable`).type("form").send({ _csrf: admin.csrf }).expect(303);
    const refused = await mcpWhoami(server, key);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toContain("disabled");
    // The session ended: the account page sends the browser to log in.
    const after = await bob.agent.get("/app/account/api-keys").redirects(0);
    expect(after.status).toBe(302);
    expect(after.headers.location).toMatch(/^\/login/);
    // The right password says the account is disabled; a wrong one says nothing more than usual.
    const form = browser(server);
    const login = await form.get("/login").expect(200);
    const denied = await form
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(login.text), email: bob.email, password: bob.password })
      .redirects(0);
    expect(denied.status).toBe(403);
    expect(denied.text).toContain("disabled by an administrator");
    expect((await admin.agent.get(`/admin/users/${bobId}`).expect(200)).text).toContain("Enable account");

    await admin.agent.post(`/admin/users/${bobId}/enable`).type("form").send({ _csrf: admin.csrf }).expect(303);
    expect((await mcpWhoami(server, key)).status).toBe(200);
    const again = browser(server);
    const page = await again.get("/login").expect(200);
    await again
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: bob.email, password: bob.password })
      .expect(303);

    const events = await server.services.audit.listForUser(bobId);
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(["user.disabled", "user.enabled", "user.signed_up"]));
    expect(events.find((e) => e.action === "user.disabled")).toMatchObject({ actorType: "user" });
  });

  it("a session read after its account was disabled (a race with the disabling) is refused", async () => {
    const dave = await signUp(server);
    await dave.agent.get("/app/account/api-keys").expect(200);
    await server.services.db.user.update({ where: { email: dave.email }, data: { disabledAt: new Date() } });
    expect((await dave.agent.get("/app/account/api-keys").redirects(0)).status).toBe(302);
  });

  it("an admin cannot disable themselves; the last admin cannot lose the role", async () => {
    const adminId = (await server.services.users.findByEmail(admin.email))!.id;
    await admin.agent.post(`/admin/users/${adminId}/disable`).type("form").send({ _csrf: admin.csrf }).expect(400);
    const last = await admin.agent.post(`/admin/users/${adminId}/revoke-admin`).type("form").send({ _csrf: admin.csrf }).expect(400);
    expect(last.text).toContain("last administrator");
  });

  it("granting the role shows the pages to the new admin at once; revoking hides them at once", async () => {
    const carol = await signUp(server);
    const carolId = (await server.services.users.findByEmail(carol.email))!.id;
    await carol.agent.get("/admin/users").expect(404);
    await admin.agent.post(`/admin/users/${carolId}/grant-admin`).type("form").send({ _csrf: admin.csrf }).expect(303);
    await carol.agent.get("/admin/users").expect(200);
    await admin.agent.post(`/admin/users/${carolId}/revoke-admin`).type("form").send({ _csrf: admin.csrf }).expect(303);
    await carol.agent.get("/admin/users").expect(404);
  });

  it("resets a user's 2FA", async () => {
    await server.services.db.user.update({ where: { id: aliceId }, data: { totpSecret: "x", totpEnabledAt: new Date() } });
    expect((await admin.agent.get(`/admin/users/${aliceId}`).expect(200)).text).toContain("two-factor on");
    await admin.agent.post(`/admin/users/${aliceId}/reset-2fa`).type("form").send({ _csrf: admin.csrf }).expect(303);
    const u = await server.services.db.user.findUniqueOrThrow({ where: { id: aliceId } });
    expect([u.totpSecret, u.totpEnabledAt]).toEqual([null, null]);
    expect(await server.services.twoFactor.isEnabled(aliceId)).toBe(false);
    expect((await server.services.audit.listForUser(aliceId)).map((e) => e.action)).toContain("2fa.reset");
  });
});

describe("OAuth clients", () => {
  const redirectUri = "http://127.0.0.1:33418/callback";
  let clientId: string;
  let key: string;

  beforeAll(async () => {
    const reg = await register(server, { client_name: "Shady MCP client" });
    clientId = reg.body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(alice.agent, server, { clientId, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    key = token.body.access_token as string;
    expect((await mcpWhoami(server, key)).status).toBe(200);
  });

  it("blocking: its keys fail at once, its authorization and token requests fail, its metadata cannot register again; unblocking restores", async () => {
    const list = await admin.agent.get("/admin/clients").expect(200);
    expect(list.text).toContain("Shady MCP client");
    expect(list.text).toContain(clientId);
    await admin.agent.post("/admin/clients/block").type("form").send({ client_id: clientId }).expect(403); // no CSRF token
    await admin.agent.post("/admin/clients/block").type("form").send({ _csrf: admin.csrf, client_id: clientId }).expect(303);

    const refused = await mcpWhoami(server, key);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toContain("blocked");
    // Token requests: an OAuth error.
    const token = await exchange(server, { clientId, code: "whatever", verifier: "v".repeat(43) });
    expect(token.status).toBe(400 <= token.status && token.status < 500 ? token.status : -1);
    expect(token.body.error).toBe("invalid_client");
    // Authorization requests: refused (an error page, never a redirect to the client).
    const pkce = pkcePair();
    const auth = await alice.agent
      .get(
        `/auth?${new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce.challenge, code_challenge_method: "S256", scope: "mcp:read", state: "s" })}`,
      )
      .redirects(0);
    expect(auth.status).toBe(400);
    expect(auth.headers.location).toBeUndefined();
    // The same metadata (name case and URI order aside) cannot register again; other metadata can.
    const again = await register(server, { client_name: "  shady mcp CLIENT " });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: "invalid_client_metadata" });
    expect(again.body.error_description).toContain("blocked");
    const other = await register(server, { client_name: "Another client" });
    expect(other.status).toBe(201);
    // Nor can another client take the blocked metadata through an RFC 7592 update.
    const update = await request(server.url)
      .put(`/reg/${other.body.client_id as string}`)
      .set("Authorization", `Bearer ${other.body.registration_access_token as string}`)
      .send({
        client_id: other.body.client_id,
        client_name: "Shady MCP client",
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: "none",
      });
    expect(update.status).toBe(400);
    expect(update.body).toMatchObject({ error: "invalid_client_metadata" });
    expect((await admin.agent.get("/admin/clients").expect(200)).text).toContain("Unblock");

    await admin.agent.post("/admin/clients/unblock").type("form").send({ _csrf: admin.csrf, client_id: clientId }).expect(303);
    expect((await mcpWhoami(server, key)).status).toBe(200);
    expect((await register(server, { client_name: "Shady MCP client" })).status).toBe(201);
    const { events } = await import("../src/admin/operators.js").then((m) =>
      m.createOperators(server.services.db, server.services.audit).audit({ action: "oauth_client.blocked" }),
    );
    expect(events[0]).toMatchObject({ targetId: clientId, actorType: "user" });
  });

  it("an unknown client id answers as a missing page", async () => {
    await admin.agent.post("/admin/clients/block").type("form").send({ _csrf: admin.csrf, client_id: "dcr_nope" }).expect(404);
  });

  it("a client's RFC 7592 deletion is on the audit trail", async () => {
    const reg = await register(server, { client_name: "Short-lived" });
    const { client_id: id, registration_access_token: rat } = reg.body as { client_id: string; registration_access_token: string };
    await request(server.url).delete(`/reg/${id}`).set("Authorization", `Bearer ${rat}`).expect(204);
    const row = await server.services.db.auditEvent.findFirst({ where: { action: "oauth_client.deleted", targetId: id } });
    expect(row).toMatchObject({ actorType: "oauth_client", actorId: id });
    expect(JSON.parse(row!.details)).toEqual({ clientName: "Short-lived" });
  });
});

describe("audit trail", () => {
  it("filters by action, user and date range, and pages", async () => {
    const byAction = await admin.agent.get("/admin/audit?action=user.signed_up").expect(200);
    expect(byAction.text).toContain(aliceId);
    expect(byAction.text).not.toContain('data-action="key.minted"');
    const byUser = await admin.agent.get(`/admin/audit?user=${encodeURIComponent(alice.email)}`).expect(200);
    expect(byUser.text).toContain('data-action="key.minted"');
    const adminId = (await server.services.users.findByEmail(admin.email))!.id;
    expect(byUser.text).not.toContain(`/admin/users/${adminId}"`);
    expect((await admin.agent.get("/admin/audit?user=nobody%40example.com").expect(200)).text).toContain("No events match.");
    expect((await admin.agent.get("/admin/audit?from=2999-01-01").expect(200)).text).toContain("No events match.");
    const today = new Date().toISOString().slice(0, 10);
    expect((await admin.agent.get(`/admin/audit?from=${today}&to=${today}`).expect(200)).text).toContain('data-action="user.signed_up"');
    expect((await admin.agent.get("/admin/audit?from=yesterday").expect(400)).text).toContain("YYYY-MM-DD");
    await admin.agent.get("/admin/audit?before=junk").expect(400);
    // More than a page: the older link walks on, without repeating an event.
    for (let i = 0; i < 55; i++)
      await server.services.audit.record({ userId: null, actor: { type: "system" }, action: "resource.added", targetId: `r${i}` });
    const first = await admin.agent.get("/admin/audit?action=resource.added").expect(200);
    const older = /href="(\/admin\/audit\?[^"]+)">Older events/.exec(first.text)![1]!.replace(/&amp;/g, "&");
    const second = await admin.agent.get(older).expect(200);
    const ids = (html: string) => [...html.matchAll(/<td data-label="Target">(r\d+)<\/td>/g)].map((m) => m[1]);
    expect(ids(first.text)).toHaveLength(50);
    expect(ids(second.text)).toHaveLength(5);
    expect(new Set([...ids(first.text), ...ids(second.text)]).size).toBe(55);
  });
});
