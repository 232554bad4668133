// Organisations: roles read on every request, admins acting on members' keys (audit-logged),
// foreign ids answered exactly like missing ones, and app keys.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "../support/server.js";
import { keyApi } from "../support/keys.js";
import { mcpPost, toolCall } from "../support/mcp-status.js";
import { joinOrg, mintIn } from "../support/orgs.js";

let server: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>; // owner of "Acme"
let bob: Awaited<ReturnType<typeof signUp>>; // member of Acme
let eve: Awaited<ReturnType<typeof signUp>>; // owner of "Evil", not in Acme
let aliceKey: string;
let eveKey: string;
let acme: string;
let evil: string;
let bobId: string;

const api = (raw: string) => keyApi(server, raw);
const mcp = (raw: string, body: object) => mcpPost(server, raw, body);

/** Status, content type, cache header and body bytes: what must not tell a foreign id from a missing one. */
const shape = (res: request.Response) => ({
  status: res.status,
  type: res.headers["content-type"],
  cache: res.headers["cache-control"],
  body: res.text,
});

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, eve] = [await signUp(server), await signUp(server), await signUp(server)];
  aliceKey = (await mintOnPage(alice.agent, alice.csrf, "alice admin")).raw;
  eveKey = (await mintOnPage(eve.agent, eve.csrf, "eve admin")).raw;
  acme = (await api(aliceKey).post("/api/orgs", { name: "Acme" }).expect(201)).body.id;
  evil = (await api(eveKey).post("/api/orgs", { name: "Evil" }).expect(201)).body.id;
  bobId = await joinOrg(server, aliceKey, acme, bob, "member");
});
afterAll(async () => server?.close());

describe("personal organisations", () => {
  it("every user gets one at sign-up, as owner; keys default to it", async () => {
    const orgs = (await api(eveKey).get("/api/orgs").expect(200)).body.data;
    expect(orgs[0]).toMatchObject({ name: "Personal", personal: true, role: "owner" });
    const who = await mcp(eveKey, toolCall("whoami"));
    expect(who.body.result.structuredContent).toMatchObject({ organizationId: orgs[0].id, role: "owner" });
  });

  it("nobody can be added to a personal organisation", async () => {
    const personal = (await api(aliceKey).get("/api/orgs").expect(200)).body.data[0].id;
    const res = await api(aliceKey).post(`/api/orgs/${personal}/members`, { email: bob.email, role: "member" });
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(/personal organisation/);
  });
});

describe("role changes reach existing keys on the next request", () => {
  it("demoting a member to viewer stops writes; removing them stops the key", async () => {
    const { raw } = await bob.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: bob.csrf, label: "bob in acme", organizationId: acme })
      .redirects(1)
      .expect(200)
      .then((r) => ({ raw: /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(r.text)![1]! }));
    const before = await mcp(raw, toolCall("notes_add", { text: "as member" }));
    expect(before.status, before.text).toBe(200);
    expect((await mcp(raw, toolCall("whoami"))).body.result.structuredContent).toMatchObject({ organizationId: acme, role: "member" });

    await api(aliceKey).patch(`/api/orgs/${acme}/members/${bobId}`, { role: "viewer" }).expect(200);
    const demoted = await mcp(raw, toolCall("notes_add", { text: "as viewer" }));
    expect(demoted.status).toBe(403);
    expect(demoted.headers["www-authenticate"]).toContain('error="insufficient_scope", scope="mcp:write"');
    const read = await mcp(raw, toolCall("notes_list"));
    expect(read.status).toBe(200);
    expect(read.body.result.structuredContent.notes.map((n: { text: string }) => n.text)).toEqual(["as member"]);

    await api(aliceKey).patch(`/api/orgs/${acme}/members/${bobId}`, { role: "member" }).expect(200);
    expect((await mcp(raw, toolCall("notes_add", { text: "member again" }))).status).toBe(200);

    await api(aliceKey).delete(`/api/orgs/${acme}/members/${bobId}`).expect(200);
    const gone = await mcp(raw, toolCall("whoami"));
    expect(gone.status).toBe(401);
    expect(gone.body.error_description).toBe("The key's owner is no longer a member of the key's organisation");
    // put bob back for the tests below
    await joinOrg(server, aliceKey, acme, bob, "member");
  });

  it("a key cannot be minted in an organisation the user is not in", async () => {
    const res = await api(eveKey).post("/api/api-keys", { label: "sneaky", organizationId: acme });
    const missing = await api(eveKey).post("/api/api-keys", { label: "sneaky", organizationId: "org_doesnotexist" });
    // a key mints only in the organisation it acts in (src/keys/mint-policy.ts): one answer for both
    expect(res.status).toBe(403);
    expect(shape(res)).toEqual(shape(missing));
    // a session is refused too, the same way for a foreign and a missing organisation
    const viaSession = await eve.agent.post("/api/api-keys").set("X-CSRF-Token", eve.csrf).send({ label: "sneaky", organizationId: acme });
    const viaSessionMissing = await eve.agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", eve.csrf)
      .send({ label: "sneaky", organizationId: "org_doesnotexist" });
    expect(viaSession.status).toBe(400);
    expect(shape(viaSession)).toEqual(shape(viaSessionMissing));
  });

  it("an organisation keeps at least one owner", async () => {
    const aliceId = (await api(aliceKey).get(`/api/orgs/${acme}/members`).expect(200)).body.data.find(
      (m: { role: string }) => m.role === "owner",
    ).userId;
    const res = await api(aliceKey).patch(`/api/orgs/${acme}/members/${aliceId}`, { role: "member" });
    expect(res.status).toBe(400);
    expect(res.body.error_description).toBe("An organisation needs at least one owner.");
  });
});

describe("org admins and members' keys", () => {
  it("an admin sees and revokes a member's key; the revocation is audit-logged as org_admin", async () => {
    // A key mints only in its own organisation: bob's Acme key comes from a key acting in Acme.
    const bobInAcme = await bob.agent
      .post("/app/account/api-keys")
      .type("form")
      .send({ _csrf: bob.csrf, label: "bob acme seed", organizationId: acme })
      .redirects(1)
      .expect(200);
    const seed = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(bobInAcme.text)![1]!;
    const minted = await api(seed).post("/api/api-keys", { label: "bob acme" });
    expect(minted.status, minted.text).toBe(201);
    expect(minted.body.organizationId).toBe(acme);
    const listed = (await api(aliceKey).get(`/api/orgs/${acme}/keys`).expect(200)).body.data as { id: string; ownerEmail: string }[];
    expect(listed.find((k) => k.id === minted.body.id)).toMatchObject({ ownerEmail: bob.email });
    // the member's personal keys are not the org's business
    expect(listed.every((k) => k.ownerEmail === bob.email || k.ownerEmail === alice.email)).toBe(true);

    const revoked = await api(aliceKey).delete(`/api/orgs/${acme}/keys/${minted.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe("revoked");
    expect((await mcp(minted.body.key, toolCall("whoami"))).status).toBe(401);
    const events = await server.services.audit.listForUser(bobId);
    expect(events.find((e) => e.action === "key.revoked" && e.targetId === minted.body.id)).toMatchObject({ actorType: "org_admin" });
  });

  it("a member who is not an admin cannot", async () => {
    const bobKey = (await mintOnPage(bob.agent, bob.csrf, "bob api")).raw;
    expect((await api(bobKey).get(`/api/orgs/${acme}/keys`)).status).toBe(403);
  });

  it("cross-organisation ids get byte-identical answers to missing ids (API and pages)", async () => {
    const eveInEvil = await api(await mintIn(eve, evil, "eve evil seed")).post("/api/api-keys", {
      label: "eve evil",
      organizationId: evil,
    });
    expect(eveInEvil.status).toBe(201);
    const foreignKey = eveInEvil.body.id as string;
    const evilApp = (await api(eveKey).post(`/api/orgs/${evil}/apps`, { name: "evil app" }).expect(201)).body.id as string;
    const a = api(aliceKey);
    const pairs: [request.Response, request.Response][] = [
      // someone else's organisation vs none
      [await a.get(`/api/orgs/${evil}`), await a.get(`/api/orgs/org_missing`)],
      [await a.get(`/api/orgs/${evil}/members`), await a.get(`/api/orgs/org_missing/members`)],
      [await a.delete(`/api/orgs/${evil}/keys/${foreignKey}`), await a.delete(`/api/orgs/org_missing/keys/${foreignKey}`)],
      // another organisation's key / app / member, asked through an organisation alice runs
      [await a.delete(`/api/orgs/${acme}/keys/${foreignKey}`), await a.delete(`/api/orgs/${acme}/keys/key_missing`)],
      [await a.get(`/api/orgs/${acme}/apps/${evilApp}/keys`), await a.get(`/api/orgs/${acme}/apps/app_missing/keys`)],
      [
        await a.delete(`/api/orgs/${acme}/members/${(await api(eveKey).get(`/api/orgs/${evil}/members`)).body.data[0].userId}`),
        await a.delete(`/api/orgs/${acme}/members/usr_missing`),
      ],
    ];
    for (const [foreign, missing] of pairs) {
      expect(foreign.status).toBe(404);
      expect(shape(foreign)).toEqual(shape(missing));
    }
    // pages too
    const page = (path: string) => alice.agent.get(path);
    const [p1, p2] = [await page(`/app/orgs/${evil}`), await page(`/app/orgs/org_missing`)];
    expect(p1.status).toBe(404);
    expect(shape(p1)).toEqual(shape(p2));
    const [p3, p4] = [await page(`/app/orgs/${acme}/apps/${evilApp}`), await page(`/app/orgs/${acme}/apps/app_missing`)];
    expect(p3.status).toBe(404);
    expect(shape(p3)).toEqual(shape(p4));
    // and the foreign key still works
    expect((await mcp(eveInEvil.body.key, toolCall("whoami"))).status).toBe(200);
  });
});

describe("app keys", () => {
  it("are minted on the app page, listed apart from user keys, and act for the app", async () => {
    const orgPage = await alice.agent.get(`/app/orgs/${acme}`).expect(200);
    const created = await alice.agent
      .post(`/app/orgs/${acme}/apps`)
      .type("form")
      .send({ _csrf: csrfFrom(orgPage.text), name: "Support bot" })
      .expect(303);
    const appPath = created.headers.location as string;
    const appId = appPath.split("/").pop()!;
    const appPage = await alice.agent.get(appPath).expect(200);
    const minted = await alice.agent
      .post(`${appPath}/keys`)
      .type("form")
      .send({ _csrf: csrfFrom(appPage.text), label: "prod", scopes: ["mcp:read"] });
    expect(minted.status).toBe(201);
    const raw = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(minted.text)![1]!;

    const who = await mcp(raw, toolCall("whoami"));
    expect(who.status, who.text).toBe(200);
    expect(who.body.result.structuredContent).toMatchObject({
      app: { id: appId, name: "Support bot" },
      organizationId: acme,
      effectiveScopes: ["mcp:read"],
    });
    expect(who.body.result.structuredContent.email).toBeUndefined();
    expect((await mcp(raw, toolCall("notes_add", { text: "x" }))).status).toBe(403);

    // not among alice's own keys, and no use at the user-key API
    const own = (await api(aliceKey).get("/api/api-keys").expect(200)).body.data as { label: string }[];
    expect(own.map((k) => k.label)).not.toContain("prod");
    expect((await api(raw).get("/api/api-keys")).status).toBe(401);
    const appKeys = (await api(aliceKey).get(`/api/orgs/${acme}/apps/${appId}/keys`).expect(200)).body.data as {
      label: string;
      appId: string;
    }[];
    expect(appKeys).toEqual([expect.objectContaining({ label: "prod", appId })]);
  });

  it("write with full access when minted without scopes; a revoked app key stops at once", async () => {
    const app = (await api(aliceKey).post(`/api/orgs/${acme}/apps`, { name: "Batch" }).expect(201)).body.id as string;
    // an app key is minted by a key acting in the app's organisation (src/keys/mint-policy.ts)
    const key = await api(await mintIn(alice, acme, "alice in acme")).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "batch" });
    expect(key.status, key.text).toBe(201);
    expect((await mcp(key.body.key, toolCall("notes_add", { text: "from the app" }))).status).toBe(200);
    await api(aliceKey).delete(`/api/orgs/${acme}/apps/${app}/keys/${key.body.id}`).expect(200);
    expect((await mcp(key.body.key, toolCall("whoami"))).status).toBe(401);
  });
});
