// Issue 28 item 1: optional expiry on every kind of key, the organisation's lifetime cap, "key expired"
// from verification (a cached row expires by itself), the page's Expired / warning, introspection exp
// and the OAuth token response's expires_in.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { keyApi, signUpWithPageKey } from "./support/keys.js";
import { createOrg, joinOrg } from "./support/orgs.js";
import { authorizeWithPkce, clientBasic, exchange, register } from "./support/oauth/flow.js";
import { createResourceServers } from "../src/oauth/resource-servers.js";
import { BY_OPERATOR } from "./support/acting.js";
import { parseExpiry } from "../src/keys/expiry.js";
import { mcpWhoami } from "./support/mcp-status.js";

const DAY = 86_400_000;
let server: TestServer;
let alice: Person & { raw: string };
let bob: Person & { raw: string };

beforeAll(async () => {
  server = await startTestServer();
  alice = await signUpWithPageKey(server, "alice bootstrap");
  bob = await signUpWithPageKey(server, "bob bootstrap");
});
afterAll(async () => server?.close());

const api = (raw: string) => keyApi(server, raw);
/** Sets a key's expiry in the past, as time passing would (the write goes through the change token like any). */
const expireNow = (id: string) => server.services.db.apiKey.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
const personalOrg = async (person: Person) =>
  ((await person.agent.get("/api/orgs").expect(200)).body.data as { id: string; personal: boolean }[]).find((o) => o.personal)!.id;

describe("parseExpiry", () => {
  const now = new Date("2026-12-03T12:00:00.000Z");
  it("reads never, days, dates (through that day, UTC) and instants", () => {
    expect(parseExpiry("never", now)).toEqual({ never: true });
    expect(parseExpiry("30d", now)).toEqual({ never: false, at: new Date(now.getTime() + 30 * DAY) });
    expect(parseExpiry("2027-01-31", now)).toEqual({ never: false, at: new Date("2027-02-01T00:00:00.000Z") });
    expect(parseExpiry("2026-12-04T08:00:00Z", now)).toEqual({ never: false, at: new Date("2026-12-04T08:00:00.000Z") });
  });
  it.each(["0d", "3651d", "2026-12-02", "2026-02-30", "tomorrow", "30", "2040-01-01", "2026-12-03T11:00:00Z", "１d"])("refuses %s", (v) => {
    expect(() => parseExpiry(v, now)).toThrow();
  });
});

describe("minting with an expiry (JSON API)", () => {
  it("stores it and shows it; never and absent mean no expiry", async () => {
    const res = await api(alice.raw).post("/api/api-keys").send({ label: "thirty", expires: "30d" }).expect(201);
    expect(Date.parse(res.body.expiresAt as string) - Date.now()).toBeGreaterThan(29.9 * DAY);
    expect(Date.parse(res.body.expiresAt as string) - Date.now()).toBeLessThanOrEqual(30 * DAY);
    expect(res.body.status).toBe("active");
    const never = await api(alice.raw).post("/api/api-keys").send({ label: "never", expires: "never" }).expect(201);
    expect(never.body.expiresAt).toBeNull();
    const plain = await api(alice.raw).post("/api/api-keys").send({ label: "plain" }).expect(201);
    expect(plain.body.expiresAt).toBeNull();
    const dated = await api(alice.raw).post("/api/api-keys").send({ label: "dated", expires: "2027-01-31" }).expect(201);
    expect(dated.body.expiresAt).toBe("2027-02-01T00:00:00.000Z");
  });

  it.each([["yesterday"], ["2020-01-01"], ["0d"], ["99999d"], [""]])("refuses expires %j with 400 and mints nothing", async (expires) => {
    const before = await server.services.db.apiKey.count();
    const res = await api(alice.raw).post("/api/api-keys").send({ label: "bad", expires });
    if (expires === "") {
      // empty is "never", like an unset field
      expect(res.status).toBe(201);
      return;
    }
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
    expect(await server.services.db.apiKey.count()).toBe(before);
  });
});

describe("an expired key", () => {
  it("fails at /mcp and the JSON API with 401 invalid_token, 'The key has expired (…)', and stays listed as expired", async () => {
    const res = await api(alice.raw).post("/api/api-keys").send({ label: "short", expires: "7d" }).expect(201);
    const raw = res.body.key as string;
    expect((await mcpWhoami(server, raw)).status).toBe(200); // cached now
    await expireNow(res.body.id as string);
    const mcp = await mcpWhoami(server, raw);
    expect(mcp.status).toBe(401);
    expect(mcp.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(mcp.headers["www-authenticate"]).toContain('error_description="The key has expired (');
    const own = await api(raw).get("/api/api-keys");
    expect(own.status).toBe(401);
    expect(own.body).toEqual({ error: "invalid_token", error_description: "The key has expired (just now)" }); // the doctor's words (issue 26)
    const listed = await api(alice.raw)
      .get(`/api/api-keys/${res.body.id as string}`)
      .expect(200);
    expect(listed.body.status).toBe("expired");
    const filtered = await api(alice.raw).get("/api/api-keys?status=expired").expect(200);
    expect((filtered.body.data as { id: string }[]).map((k) => k.id)).toContain(res.body.id);
    const active = await api(alice.raw).get("/api/api-keys?status=active").expect(200);
    expect((active.body.data as { id: string }[]).map((k) => k.id)).not.toContain(res.body.id);
  });

  it("expires at its instant even while its row is cached (the boundary)", async () => {
    const at = new Date(Date.now() + 3_600_000);
    const { raw } = await server.services.keys.mint(
      { userId: (await server.services.users.findByEmail(alice.email))!.id, label: "boundary", source: "portal", expiresAt: at },
      BY_OPERATOR,
    );
    expect((await server.services.keys.verify(raw)).ok).toBe(true);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(at.getTime() - 1);
      expect((await server.services.keys.verify(raw)).ok).toBe(true);
      vi.setSystemTime(at.getTime());
      expect(await server.services.keys.verify(raw)).toMatchObject({ ok: false, reason: "expired" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the account page", () => {
  it("mints with a preset or a date, shows Expired dimmed and warns 7 days ahead", async () => {
    const minted = await alice.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: alice.csrf, label: "page soon", expires: "7d" })
      .expect(303);
    expect(minted.headers.location).toMatch(/\/reveal\//);
    const keysNow = (await api(alice.raw).get("/api/api-keys?q=page%20soon").expect(200)).body.data as { id: string; expiresAt: string }[];
    const soon = keysNow[0]!;
    await server.services.db.apiKey.update({ where: { id: soon.id }, data: { expiresAt: new Date(Date.now() + 2.5 * DAY) } });
    const dated = await alice.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: alice.csrf, label: "page dated", expires: "date", expiresDate: "2030-06-30" })
      .expect(303);
    expect(dated.headers.location).toMatch(/\/reveal\//);
    const gone = await api(alice.raw).post("/api/api-keys").send({ label: "page gone", expires: "30d" }).expect(201);
    await expireNow(gone.body.id as string);
    const html = (await alice.agent.get("/app/account/api-keys").expect(200)).text;
    const row = (id: string) => new RegExp(`<tr class="([^"]*)" data-key-id="${id}">([\\s\\S]*?)</tr>`).exec(html)!;
    expect(row(soon.id)[2]).toContain("Expires in 3 days");
    expect(row(gone.body.id as string)[1]).toBe("expired");
    expect(row(gone.body.id as string)[2]).toContain(">Expired<");
    const detail = (await alice.agent.get(`/app/account/api-keys/${soon.id}`).expect(200)).text;
    expect(detail).toContain("Expires in 3 days");
    expect((await alice.agent.get(`/app/account/api-keys/${gone.body.id as string}`).expect(200)).text).toContain("Expired at");
  });

  it("refuses a bad date with the message on the form, and another user's key page is the missing id's 404", async () => {
    const res = await alice.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: alice.csrf, label: "bad date", expires: "date", expiresDate: "1999-01-01" });
    expect(res.status).toBe(400);
    expect(res.text).toContain("The expiry must be in the future");
    const bobs = (await api(bob.raw).get("/api/api-keys").expect(200)).body.data as { id: string }[];
    const foreign = await alice.agent.get(`/app/account/api-keys/${bobs[0]!.id}`);
    const missing = await alice.agent.get("/app/account/api-keys/key_doesnotexist00000000");
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
  });
});

describe("an organisation's lifetime cap", () => {
  let orgId: string;
  let member: Person & { raw: string };

  beforeAll(async () => {
    orgId = await createOrg(server, alice.raw, "Capped Co");
    const m = await signUp(server);
    member = { ...m, raw: (await mintOnPage(m.agent, m.csrf, "member bootstrap")).raw };
    await joinOrg(server, alice.raw, orgId, member, "member");
  });

  it("is set by owners and admins only; bad values are 400; another org is 404", async () => {
    expect((await api(alice.raw).put(`/api/orgs/${orgId}/key-policy`).send({ max_key_lifetime_days: 0 })).status).toBe(400);
    expect((await api(alice.raw).put(`/api/orgs/${orgId}/key-policy`).send({ max_key_lifetime_days: "30" })).status).toBe(400);
    expect((await api(alice.raw).put(`/api/orgs/${orgId}/key-policy`).send({ max_key_lifetime_days: 4000 })).status).toBe(400);
    const memberInOrg = await member.agent
      .put(`/api/orgs/${orgId}/key-policy`)
      .set("X-CSRF-Token", member.csrf)
      .send({ max_key_lifetime_days: 30 });
    expect(memberInOrg.status).toBe(403);
    const foreign = await api(bob.raw).put(`/api/orgs/${orgId}/key-policy`).send({ max_key_lifetime_days: 30 });
    const missing = await api(bob.raw).put(`/api/orgs/org_missing/key-policy`).send({ max_key_lifetime_days: 30 });
    expect(foreign.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
    const set = await alice.agent.put(`/api/orgs/${orgId}/key-policy`).set("X-CSRF-Token", alice.csrf).send({ max_key_lifetime_days: 30 });
    expect(set.status, set.text).toBe(200);
    expect(set.body.maxKeyLifetimeDays).toBe(30);
    expect((await alice.agent.get(`/api/orgs/${orgId}`).expect(200)).body.maxKeyLifetimeDays).toBe(30);
  });

  it("refuses a member's longer key (and never) with the cap named; a shorter one is minted", async () => {
    const never = await member.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: member.csrf, label: "too long", organizationId: orgId, expires: "never" });
    expect(never.status).toBe(400);
    expect(never.text).toContain("allows keys of at most 30 days");
    const long = await member.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: member.csrf, label: "too long", organizationId: orgId, expires: "90d" });
    expect(long.status).toBe(400);
    const ok = await member.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: member.csrf, label: "fits", organizationId: orgId, expires: "7d" });
    expect(ok.status).toBe(303);
  });

  it("shows on the org page, where admins change it with the form (bad values come back on the form)", async () => {
    const html = (await alice.agent.get(`/app/orgs/${orgId}`).expect(200)).text;
    expect(html).toContain("Key lifetime policy");
    expect(html).toContain("<strong>30 days</strong>");
    const bad = await alice.agent.post(`/app/orgs/${orgId}/key-policy`).type("form").send({ _csrf: alice.csrf, maxDays: "0" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('id="key-policy-error"');
    const lifted = await alice.agent.post(`/app/orgs/${orgId}/key-policy`).type("form").send({ _csrf: alice.csrf, maxDays: "" });
    expect(lifted.status).toBe(303);
    expect((await alice.agent.get(`/api/orgs/${orgId}`).expect(200)).body.maxKeyLifetimeDays).toBeNull();
    await alice.agent.post(`/app/orgs/${orgId}/key-policy`).type("form").send({ _csrf: alice.csrf, maxDays: "30" }).expect(303);
    const memberPage = (await member.agent.get(`/app/orgs/${orgId}`).expect(200)).text;
    expect(memberPage).toContain("<strong>30 days</strong>");
    expect(memberPage).not.toContain("Save policy");
  });

  it("shows a member's expired key as Expired, dimmed, to the organisation's admins", async () => {
    const res = await member.agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", member.csrf)
      .send({ label: "member soon gone", organizationId: orgId, expires: "7d" });
    expect(res.status, res.text).toBe(201);
    await expireNow(res.body.id as string);
    const html = (await alice.agent.get(`/app/orgs/${orgId}`).expect(200)).text;
    const row = new RegExp(`<tr class="([^"]*)" data-key-id="${res.body.id as string}">([\\s\\S]*?)</tr>`).exec(html)!;
    expect(row[1]).toBe("expired");
    expect(row[2]).toContain("Expired");
  });

  it("applies to app keys", async () => {
    const app = await alice.agent.post(`/api/orgs/${orgId}/apps`).set("X-CSRF-Token", alice.csrf).send({ name: "Capped app" }).expect(201);
    const path = `/api/orgs/${orgId}/apps/${app.body.id as string}/keys`;
    const refused = await alice.agent.post(path).set("X-CSRF-Token", alice.csrf).send({ label: "forever" });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toContain("at most 30 days");
    const ok = await alice.agent.post(path).set("X-CSRF-Token", alice.csrf).send({ label: "monthly", expires: "30d" });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.expiresAt).not.toBeNull();
  });

  it("caps OAuth keys of the personal organisation: expires_in, the key's expiry and introspection's exp agree", async () => {
    const person = await signUp(server);
    const personal = await personalOrg(person);
    await person.agent
      .put(`/api/orgs/${personal}/key-policy`)
      .set("X-CSRF-Token", person.csrf)
      .send({ max_key_lifetime_days: 7 })
      .expect(200);
    const clientId = (await register(server)).body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status, token.text).toBe(200);
    expect(token.body.expires_in).toBeGreaterThan(7 * 86_400 - 60);
    expect(token.body.expires_in).toBeLessThanOrEqual(7 * 86_400);
    const key = (await server.services.keys.verify(token.body.access_token as string)) as {
      ok: true;
      key: { expiresAt: string; createdAt: string };
    };
    expect(key.ok).toBe(true);
    const expSeconds = Math.floor(Date.parse(key.key.expiresAt) / 1000);
    expect(Math.abs(expSeconds - (Math.floor(Date.now() / 1000) + (token.body.expires_in as number)))).toBeLessThanOrEqual(2);
    const rs = await createResourceServers(server.services.db).add("Expiry checker");
    const introspect = (token: string) =>
      request(server.url)
        .post("/token/introspection")
        .set("Authorization", clientBasic(rs.clientId, rs.clientSecret))
        .type("form")
        .send({ token });
    const info = await introspect(token.body.access_token as string);
    expect(info.body).toMatchObject({ active: true, exp: expSeconds });
    // A portal key without expiry keeps the far-future exp (issue 26).
    const plain = await introspect(alice.raw);
    expect(plain.body.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(9 * 365 * 86_400);
    // Once expired, the OAuth key fails like any other, and introspection says inactive.
    await expireNow((await server.services.db.apiKey.findFirst({ where: { clientId }, select: { id: true } }))!.id);
    expect((await mcpWhoami(server, token.body.access_token as string)).headers["www-authenticate"]).toContain(
      'error_description="The key has expired (',
    );
    const after = await introspect(token.body.access_token as string);
    expect(after.body).toEqual({ active: false });
  });
});
