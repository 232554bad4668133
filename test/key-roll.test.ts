// Issue 28 item 2: roll a key (page, JSON API, CLI, org admins for app keys): the replacement is
// revealed once, both keys work during the overlap, the old one ends after it ("key expired"), the
// audit trail links them; a second instance sees the end at once; attacker cases.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signUp, startSecondInstance, startTestServer, type Person, type TestServer } from "./support/server.js";
import { keyApi, signUpWithPageKey } from "./support/keys.js";
import { createOrg, joinOrg, mintIn } from "./support/orgs.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { keyward as keywardCli, type Run } from "./support/cli-run.js";
import type { RunningServer } from "../src/server.js";
import { mcpWhoami } from "./support/mcp-status.js";

const HOUR = 3_600_000;
let server: TestServer;
let second: RunningServer;
let alice: Person & { raw: string };
let bob: Person & { raw: string };

beforeAll(async () => {
  server = await startTestServer();
  // A second instance on the same database (SQLite file or PostgreSQL with its change feed), as behind a balancer.
  second = await startSecondInstance(server);
  alice = await signUpWithPageKey(server, "alice bootstrap");
  bob = await signUpWithPageKey(server, "bob bootstrap");
}, 60_000);
afterAll(async () => {
  await second?.stop();
  await server?.close();
});

const api = (raw: string) => keyApi(server, raw);
const detailsOf = (d: unknown) => (typeof d === "string" ? (JSON.parse(d) as Record<string, unknown>) : (d as Record<string, unknown>));
const mint = async (body: Record<string, unknown>, raw = alice.raw) =>
  (await api(raw).post("/api/api-keys").send(body).expect(201)).body as KeyBody;

interface KeyBody {
  id: string;
  key: string;
  label: string;
  scopes: string[];
  resources: string[] | null;
  organizationId: string;
  status: string;
  expiresAt: string | null;
  replacedById: string | null;
  source: string;
  replaces?: KeyBody;
}

describe("rolling through the JSON API", () => {
  it("mints the replacement (same label, scopes, resources, organisation), both work in the overlap, the audit trail links them", async () => {
    const old = await mint({ label: "deploy bot", scopes: ["mcp:read", "keys:read"], resources: ["mcp"] });
    const res = await api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send({ overlap: "1h" });
    expect(res.status, res.text).toBe(201);
    const rolled = res.body as KeyBody;
    expect(rolled.key).toMatch(/^kw_user_/);
    expect(rolled.id).not.toBe(old.id);
    expect(res.headers.location).toBe(`/api/api-keys/${rolled.id}`);
    expect(rolled).toMatchObject({
      label: "deploy bot",
      scopes: ["mcp:read", "keys:read"],
      resources: old.resources,
      organizationId: old.organizationId,
      source: "portal",
      expiresAt: null,
    });
    expect(rolled.replaces).toMatchObject({ id: old.id, replacedById: rolled.id, status: "active" });
    const end = Date.parse(rolled.replaces!.expiresAt!);
    expect(end - Date.now()).toBeGreaterThan(HOUR - 60_000);
    expect(end - Date.now()).toBeLessThanOrEqual(HOUR);
    expect((await mcpWhoami(server, old.key)).status).toBe(200);
    expect((await mcpWhoami(server, rolled.key)).status).toBe(200);
    // The raw key is in no other answer.
    const listed = await api(alice.raw).get("/api/api-keys").expect(200);
    expect(listed.text).not.toContain(rolled.key);
    const events = await server.services.db.auditEvent.findMany({ where: { action: "key.rolled", targetId: old.id } });
    expect(events).toHaveLength(1);
    expect(detailsOf(events[0]!.details)).toMatchObject({ replacementId: rolled.id, overlap: "1h", endsAt: rolled.replaces!.expiresAt });
    const minted = await server.services.db.auditEvent.findMany({ where: { action: "key.minted", targetId: rolled.id } });
    expect(detailsOf(minted[0]!.details)).toMatchObject({ rolledFrom: old.id, via: "api" });
    // At the end of the overlap the old key expires, on both instances, though both have it cached.
    expect((await mcpWhoami(second, old.key)).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(end);
      expect(await server.services.keys.verify(old.key)).toMatchObject({ ok: false, reason: "expired" });
      expect(await second.services.keys.verify(old.key)).toMatchObject({ ok: false, reason: "expired" });
      expect((await server.services.keys.verify(rolled.key)).ok).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("with overlap now ends the old key at once on every instance", async () => {
    const old = await mint({ label: "now" });
    expect((await mcpWhoami(second, old.key)).status).toBe(200); // cached on the second instance
    const rolled = (await api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send({ overlap: "now" }).expect(201)).body as KeyBody;
    for (const url of [server.url, second.url]) {
      const res = await mcpWhoami({ url }, old.key);
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toContain('error_description="The key has expired (');
      expect((await mcpWhoami({ url }, rolled.key)).status).toBe(200);
    }
    expect((await api(alice.raw).get(`/api/api-keys/${old.id}`).expect(200)).body.status).toBe("expired");
  });

  it("keeps a DPoP binding: the replacement is bound to the same key pair", async () => {
    const jkt = "A".repeat(43);
    const old = await mint({ label: "bound", dpop_jkt: jkt });
    const rolled = (await api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send({ overlap: "now" }).expect(201)).body as KeyBody & {
      dpopJkt: string;
    };
    expect(rolled.dpopJkt).toBe(jkt);
  });

  it("keeps the old key's limits (IP allowlist, rate limit); a key with limits of its own rolls only keys as limited", async () => {
    const limited = await mint({ label: "limited", allowedIps: ["127.0.0.0/8"], rateLimit: 30 });
    const rolled = (await api(alice.raw).post(`/api/api-keys/${limited.id}/roll`).send({ overlap: "now" }).expect(201)).body as KeyBody & {
      allowedIps: string[] | null;
      rateLimit: number | null;
    };
    expect(rolled.allowedIps).toEqual(["127.0.0.0/8"]);
    expect(rolled.rateLimit).toBe(30);
    // Rolling must not be a way out of one's own limits: a limited key cannot roll an unlimited one.
    const free = await mint({ label: "unlimited" });
    const caller = await mint({ label: "limited caller", allowedIps: ["127.0.0.0/8"] });
    const refused = await api(caller.key).post(`/api/api-keys/${free.id}/roll`).send({ overlap: "now" });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("insufficient_scope");
    expect((await mcpWhoami(server, free.key)).status).toBe(200); // nothing rolled
    const asLimited = await mint({ label: "as limited", allowedIps: ["127.0.0.0/8"] });
    expect((await api(caller.key).post(`/api/api-keys/${asLimited.id}/roll`).send({ overlap: "now" })).status).toBe(201);
  });

  it("gives a key with an expiry a replacement with the same lifetime from now", async () => {
    const old = await mint({ label: "monthly", expires: "30d" });
    const rolled = (await api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send({ overlap: "24h" }).expect(201)).body as KeyBody;
    expect(Date.parse(rolled.expiresAt!) - Date.now()).toBeGreaterThan(30 * 24 * HOUR - 120_000);
    expect(Date.parse(rolled.expiresAt!) - Date.now()).toBeLessThanOrEqual(30 * 24 * HOUR);
  });

  it.each([[{ overlap: "2h" }], [{ overlap: 3600 }], [{}], [{ overlap: "now", extra: 1 }], [{ overlap: "now\u0000" }]])(
    "refuses body %j with 400 and changes nothing",
    async (body) => {
      const old = await mint({ label: "bad overlap" });
      const res = await api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect((await api(alice.raw).get(`/api/api-keys/${old.id}`).expect(200)).body).toMatchObject({ replacedById: null, expiresAt: null });
    },
  );

  it("answers another user's key exactly as a missing one (404), and rolls nothing", async () => {
    const bobs = await mint({ label: "bob's" }, bob.raw);
    const foreign = await api(alice.raw).post(`/api/api-keys/${bobs.id}/roll`).send({ overlap: "now" });
    const missing = await api(alice.raw).post("/api/api-keys/key_nothere000000000000/roll").send({ overlap: "now" });
    expect(foreign.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
    expect((await mcpWhoami(server, bobs.key)).status).toBe(200);
  });

  it("refuses a revoked, an expired and an already rolled key with 409", async () => {
    const revoked = await mint({ label: "revoked" });
    await api(alice.raw).delete(`/api/api-keys/${revoked.id}`).expect(200);
    const r1 = await api(alice.raw).post(`/api/api-keys/${revoked.id}/roll`).send({ overlap: "now" });
    expect(r1.status).toBe(409);
    expect(r1.body.error_description).toMatch(/revoked/);
    const rolledTwice = await mint({ label: "twice" });
    await api(alice.raw).post(`/api/api-keys/${rolledTwice.id}/roll`).send({ overlap: "7d" }).expect(201);
    const r2 = await api(alice.raw).post(`/api/api-keys/${rolledTwice.id}/roll`).send({ overlap: "7d" });
    expect(r2.status).toBe(409);
    expect(r2.body.error_description).toMatch(/rolled already/);
    const expired = await mint({ label: "expired" });
    await server.services.db.apiKey.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const r3 = await api(alice.raw).post(`/api/api-keys/${expired.id}/roll`).send({ overlap: "now" });
    expect(r3.status).toBe(409);
    expect(r3.body.error_description).toMatch(/expired/);
  });

  it("lets exactly one of two concurrent rolls win", async () => {
    const old = await mint({ label: "race" });
    const results = await Promise.all([1, 2].map(() => api(alice.raw).post(`/api/api-keys/${old.id}/roll`).send({ overlap: "1h" })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(
      await server.services.db.apiKey.count({
        where: { label: "race", userId: (await server.services.users.findByEmail(alice.email))!.id },
      }),
    ).toBe(2);
  });

  it("does not let a weaker key roll a stronger one", async () => {
    const full = await mint({ label: "full access" });
    const weak = await mint({ label: "weak", scopes: ["mcp:read", "keys:write", "keys:read"] });
    const res = await api(weak.key).post(`/api/api-keys/${full.id}/roll`).send({ overlap: "now" });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("insufficient_scope");
    expect((await mcpWhoami(server, full.key)).status).toBe(200);
    const readOnly = await mint({ label: "read only", scopes: ["mcp:read", "keys:read"] });
    expect((await api(readOnly.key).post(`/api/api-keys/${readOnly.id}/roll`).send({ overlap: "now" })).status).toBe(403);
    // Its own access or less: allowed.
    const sub = await mint({ label: "sub", scopes: ["mcp:read"] });
    expect((await api(weak.key).post(`/api/api-keys/${sub.id}/roll`).send({ overlap: "now" })).status).toBe(201);
  });

  it("refuses an OAuth key with 400 and a way forward; the key keeps working", async () => {
    const clientId = (await register(server)).body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(alice.agent, server, { clientId, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    const id = (await server.services.db.apiKey.findFirst({ where: { clientId }, select: { id: true } }))!.id;
    const res = await api(alice.raw).post(`/api/api-keys/${id}/roll`).send({ overlap: "now" });
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(/OAuth keys cannot be rolled/);
    expect((await mcpWhoami(server, token.body.access_token as string)).status).toBe(200);
    const page = await alice.agent.get(`/app/account/api-keys/${id}`).expect(200);
    expect(page.text).toContain("OAuth keys are not rolled");
    expect(page.text).not.toContain("Roll key");
  });
});

describe("rolling app keys (organisation admins)", () => {
  it("lets admins roll, refuses members (403) and other organisations (404)", async () => {
    const orgId = await createOrg(server, alice.raw, "Roll Co");
    const member = await signUp(server);
    await joinOrg(server, alice.raw, orgId, member, "member");
    const app = await alice.agent.post(`/api/orgs/${orgId}/apps`).set("X-CSRF-Token", alice.csrf).send({ name: "Roller" }).expect(201);
    const keysPath = `/api/orgs/${orgId}/apps/${app.body.id as string}/keys`;
    const appKey = (await alice.agent.post(keysPath).set("X-CSRF-Token", alice.csrf).send({ label: "backend" }).expect(201))
      .body as KeyBody;
    const memberRes = await member.agent.post(`${keysPath}/${appKey.id}/roll`).set("X-CSRF-Token", member.csrf).send({ overlap: "now" });
    expect(memberRes.status).toBe(403);
    const bobRes = await api(bob.raw).post(`${keysPath}/${appKey.id}/roll`).send({ overlap: "now" });
    expect(bobRes.status).toBe(404);
    const bad = await alice.agent.post(`${keysPath}/${appKey.id}/roll`).set("X-CSRF-Token", alice.csrf).send({ overlap: "1y" });
    expect(bad.status).toBe(400);
    const res = await alice.agent.post(`${keysPath}/${appKey.id}/roll`).set("X-CSRF-Token", alice.csrf).send({ overlap: "1h" });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ label: "backend", replaces: { id: appKey.id, replacedById: res.body.id } });
    const listed = (await alice.agent.get(keysPath).expect(200)).body.data as KeyBody[];
    expect(listed.map((k) => k.id)).toEqual(expect.arrayContaining([appKey.id, res.body.id]));
    // The app page's Roll button renders the replacement once.
    const html = (await alice.agent.get(`/app/orgs/${orgId}/apps/${app.body.id as string}`).expect(200)).text;
    expect(html).toContain(`/keys/${res.body.id as string}/roll`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const page = await alice.agent
      .post(`/app/orgs/${orgId}/apps/${app.body.id as string}/keys/${res.body.id as string}/roll`)
      .type("form")
      .send({ _csrf: csrf, overlap: "now" });
    expect(page.status).toBe(201);
    expect(page.text).toMatch(/kw_app_|kw_user_/);
  });

  it("a member's key in an organisation is rolled in the same organisation", async () => {
    const orgId = await createOrg(server, alice.raw, "Member Roll Co");
    const raw = await mintIn(alice, orgId, "org key");
    const id = ((await api(alice.raw).get("/api/api-keys?q=org%20key").expect(200)).body.data as KeyBody[])[0]!.id;
    const rolled = (await api(raw).post(`/api/api-keys/${id}/roll`).send({ overlap: "now" }).expect(201)).body as KeyBody;
    expect(rolled.organizationId).toBe(orgId);
  });
});

describe("rolling on the account page", () => {
  it("shows the key page, rolls to a one-time reveal, and shows the scheduled end", async () => {
    const old = await mint({ label: "page roll" });
    const detail = await alice.agent.get(`/app/account/api-keys/${old.id}`).expect(200);
    expect(detail.text).toContain("Roll key");
    expect(detail.text).toContain("Never expires");
    const bad = await alice.agent.post(`/app/account/api-keys/${old.id}/roll`).type("form").send({ _csrf: alice.csrf, overlap: "forever" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("Choose an overlap");
    const noCsrf = await alice.agent.post(`/app/account/api-keys/${old.id}/roll`).type("form").send({ overlap: "now" });
    expect(noCsrf.status).toBe(403);
    const res = await alice.agent
      .post(`/app/account/api-keys/${old.id}/roll`)
      .type("form")
      .send({ _csrf: alice.csrf, overlap: "24h" })
      .expect(303);
    expect(res.headers.location).toMatch(/\/app\/account\/api-keys\/reveal\//);
    const reveal = await alice.agent.get(res.headers.location as string).expect(200);
    const raw = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(reveal.text)![1]!;
    expect((await mcpWhoami(server, raw)).status).toBe(200);
    expect((await mcpWhoami(server, old.key)).status).toBe(200);
    const after = await alice.agent.get(`/app/account/api-keys/${old.id}`).expect(200);
    expect(after.text).toContain("Rolled: replaced by");
    expect(after.text).not.toContain("Roll key");
    const foreign = await alice.agent
      .post(`/app/account/api-keys/${(await mint({ label: "b" }, bob.raw)).id}/roll`)
      .type("form")
      .send({ _csrf: alice.csrf, overlap: "now" });
    expect(foreign.status).toBe(404);
  });
});

describe("the CLI", () => {
  const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    keywardCli(args, { env: { DATABASE_URL: server.database.url, ISSUER: server.config.baseUrl, ...env } });

  it("creates with --expires and rolls with --overlap on this machine's database", async () => {
    const bad = await cli(["api-keys", "create", "x", "--user", alice.email, "--expires", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--expires");
    const created = await cli(["api-keys", "create", "cli thirty", "--user", alice.email, "--expires", "30d", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as KeyBody;
    expect(Date.parse(key.expiresAt!) - Date.now()).toBeGreaterThan(29 * 24 * HOUR);
    const badOverlap = await cli(["api-keys", "roll", key.id, "--overlap", "2d", "--user", alice.email]);
    expect(badOverlap.code).toBe(2);
    const rolled = await cli(["api-keys", "roll", key.id, "--overlap", "1h", "--user", alice.email, "--json"]);
    expect(rolled.code, rolled.stderr).toBe(0);
    const body = JSON.parse(rolled.stdout) as KeyBody;
    expect(body).toMatchObject({ label: "cli thirty", source: "cli", replaces: { id: key.id, replacedById: body.id } });
    expect((await mcpWhoami(server, body.key)).status).toBe(200);
    const again = await cli(["api-keys", "roll", key.id, "--overlap", "1h", "--user", alice.email]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("rolled already");
    const foreign = await cli([
      "api-keys",
      "roll",
      (await mint({ label: "bob cli" }, bob.raw)).id,
      "--overlap",
      "now",
      "--user",
      alice.email,
    ]);
    expect(foreign.code).toBe(3);
  });

  it("does the same on a remote server through the JSON API", async () => {
    const env = { KEYWARD_TOKEN: alice.raw };
    const created = await cli(["api-keys", "create", "remote dated", "--server", server.url, "--expires", "2030-01-31", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as KeyBody;
    expect(key.expiresAt).toBe("2030-02-01T00:00:00.000Z");
    const refused = await cli(["api-keys", "create", "remote bad", "--server", server.url, "--expires", "1999-01-01"], env);
    expect(refused.code).toBe(2);
    const rolled = await cli(["api-keys", "roll", key.id, "--overlap", "now", "--server", server.url], env);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout.trim()).toMatch(/^kw_user_/);
    expect(rolled.stderr).toContain(`Rolled API key ${key.id}`);
    expect((await api(alice.raw).get(`/api/api-keys/${key.id}`).expect(200)).body.status).toBe("expired");
  });

  it("sets an organisation's key lifetime policy (operator)", async () => {
    const orgId = await createOrg(server, alice.raw, "CLI Policy Co");
    expect((await cli(["orgs", "key-policy", orgId, "--max-days", "0"])).code).toBe(2);
    expect((await cli(["orgs", "key-policy", "org_missing", "--max-days", "30"])).code).toBe(3);
    const set = await cli(["orgs", "key-policy", orgId, "--max-days", "30"]);
    expect(set.code, set.stderr).toBe(0);
    expect((await alice.agent.get(`/api/orgs/${orgId}`).expect(200)).body.maxKeyLifetimeDays).toBe(30);
    expect((await cli(["orgs", "key-policy", orgId, "--max-days", "none"])).code).toBe(0);
    expect((await alice.agent.get(`/api/orgs/${orgId}`).expect(200)).body.maxKeyLifetimeDays).toBeNull();
  });
});
