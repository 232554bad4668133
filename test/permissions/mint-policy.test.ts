// Issue 22 item 5, from the attacker's side: a key is not a full account credential on the JSON API.
// Managing keys needs keys:*, organisations orgs:* (src/scopes/management.ts); a key mints only in
// its own organisation and only access it holds itself (src/keys/mint-policy.ts). Every refusal is
// checked at the database too: no key row, no organisation, no membership was written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { loadConfig } from "../../src/config.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "../support/server.js";
import { keyApi } from "../support/keys.js";
import { mcpPost, toolCall } from "../support/mcp-status.js";
import { authorizeUrl, follow, pkcePair, register } from "../support/oauth/flow.js";
import { joinOrg } from "../support/orgs.js";

let server: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>; // owner of Acme
let victor: Awaited<ReturnType<typeof signUp>>; // viewer in Acme
let aliceFull: string;
let acme: string;

const api = (raw: string) => keyApi(server, raw);
const mcp = (raw: string, body: object) => mcpPost(server, raw, body);

/** A key minted on the account page (a session: the user's full access), in an organisation. */
const pageKey = async (person: Awaited<ReturnType<typeof signUp>>, scopes: string[], organizationId?: string) => {
  const res = await person.agent
    .post("/app/account/api-keys")
    .type("form")
    .send({ _csrf: person.csrf, label: "seed", scopes, ...(organizationId ? { organizationId } : {}) })
    .redirects(1);
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  return /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text)![1]!;
};
const counts = async () => ({
  keys: await server.services.db.apiKey.count(),
  orgs: await server.services.db.organization.count(),
  members: await server.services.db.membership.count(),
});
const refused = (res: request.Response, scope?: string) => {
  expect(res.status, res.text).toBe(403);
  expect(res.body.error).toBe("insufficient_scope");
  expect(res.text).not.toMatch(/stack|at \w+ \(/);
  if (scope) expect(res.headers["www-authenticate"]).toContain(`error="insufficient_scope", scope="${scope}"`);
};

beforeAll(async () => {
  server = await startTestServer();
  [alice, victor] = [await signUp(server), await signUp(server)];
  aliceFull = (await mintOnPage(alice.agent, alice.csrf, "alice full")).raw;
  acme = (await api(aliceFull).post("/api/orgs", { name: "Acme" }).expect(201)).body.id;
  await joinOrg(server, aliceFull, acme, victor, "viewer");
});
afterAll(async () => server?.close());

describe("a key without management scopes cannot manage the account", () => {
  it("an mcp:read key cannot mint a key (full access or any), list keys or create an organisation", async () => {
    const readOnly = await pageKey(alice, ["mcp:read"]);
    const before = await counts();
    refused(await api(readOnly).post("/api/api-keys", { label: "escalate" }), "keys:write");
    refused(await api(readOnly).post("/api/api-keys", { label: "escalate", scopes: ["mcp:write"] }), "keys:write");
    refused(await api(readOnly).get("/api/api-keys"), "keys:read");
    refused(await api(readOnly).post("/api/orgs", { name: "Mine now" }), "orgs:write");
    refused(await api(readOnly).get("/api/orgs"), "orgs:read");
    expect(await counts()).toEqual(before);
    // it still does what it was made for
    expect((await mcp(readOnly, toolCall("whoami"))).status).toBe(200);
  });

  it("keys:read lists keys but cannot mint or revoke; the target key keeps working", async () => {
    const lister = await pageKey(alice, ["keys:read"]);
    const target = await pageKey(alice, ["mcp:read"]);
    const list = await api(lister).get("/api/api-keys").expect(200);
    const targetId = (list.body.data as { id: string; last4: string }[]).find((k) => k.last4 === target.slice(-4))!.id;
    const before = await counts();
    refused(await api(lister).post("/api/api-keys", { label: "x", scopes: ["keys:read"] }), "keys:write");
    refused(await api(lister).delete(`/api/api-keys/${targetId}`), "keys:write");
    expect(await counts()).toEqual(before);
    expect((await mcp(target, toolCall("whoami"))).status).toBe(200);
    // a management-only key has no access at the protected resource
    expect((await mcp(lister, toolCall("whoami"))).status).toBe(403);
  });

  it("orgs:read lists organisations but cannot create one or invite", async () => {
    const reader = await pageKey(alice, ["orgs:read"]);
    expect((await api(reader).get("/api/orgs").expect(200)).body.data.map((o: { id: string }) => o.id)).toContain(acme);
    const before = await counts();
    refused(await api(reader).post("/api/orgs", { name: "x" }), "orgs:write");
    refused(await api(reader).post(`/api/orgs/${acme}/members`, { email: "someone@example.com", role: "admin" }), "orgs:write");
    expect(await counts()).toEqual(before);
    expect(await server.services.db.invitation.count({ where: { email: "someone@example.com" } })).toBe(0);
  });
});

describe("a key mints only a subset of its own access, in its own organisation", () => {
  it("keys:write + mcp:read cannot mint full access, mcp:write or a management scope it lacks", async () => {
    const limited = await pageKey(alice, ["mcp:read", "keys:write"]);
    const before = await counts();
    refused(await api(limited).post("/api/api-keys", { label: "everything" }));
    refused(await api(limited).post("/api/api-keys", { label: "write", scopes: ["mcp:write"] }), "mcp:write");
    refused(await api(limited).post("/api/api-keys", { label: "orgs", scopes: ["mcp:read", "orgs:write"] }), "orgs:write");
    expect(await counts()).toEqual(before);
    // a subset is fine, and it is exactly what it says
    const ok = await api(limited).post("/api/api-keys", { label: "subset", scopes: ["mcp:read", "keys:read"] });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.scopes).toEqual(["mcp:read", "keys:read"]);
    expect((await mcp(ok.body.key, toolCall("notes_add", { text: "no" }))).status).toBe(403);
    refused(await api(ok.body.key).post("/api/api-keys", { label: "again", scopes: ["mcp:read"] }), "keys:write");
  });

  it("a viewer's full-access key is read-only on the API too: it mints nothing and creates no organisation", async () => {
    const viewerKey = await pageKey(victor, [], acme);
    const before = await counts();
    refused(await api(viewerKey).post("/api/api-keys", { label: "w", scopes: ["mcp:write"] }), "keys:write");
    refused(await api(viewerKey).post("/api/api-keys", { label: "same as me" }), "keys:write");
    refused(await api(viewerKey).post("/api/api-keys", { label: "r", scopes: ["mcp:read"] }), "keys:write");
    refused(await api(viewerKey).post("/api/orgs", { name: "Made by a read-only key" }), "orgs:write");
    expect(await counts()).toEqual(before);
    // reading still works
    expect((await api(viewerKey).get("/api/api-keys")).status).toBe(200);
    expect((await api(viewerKey).get("/api/orgs")).status).toBe(200);
  });

  it("a viewer's key cannot mint in the user's other organisations (personal: full write), a foreign or a missing one", async () => {
    const viewerKey = await pageKey(victor, [], acme);
    const personal = (await api(viewerKey).get("/api/orgs").expect(200)).body.data.find((o: { personal: boolean }) => o.personal)
      .id as string;
    const before = await counts();
    const toPersonal = await api(viewerKey).post("/api/api-keys", { label: "escape", organizationId: personal });
    const toForeign = await api(viewerKey).post("/api/api-keys", {
      label: "escape",
      organizationId: (await api(aliceFull).get("/api/orgs")).body.data[0].id,
    });
    const toMissing = await api(viewerKey).post("/api/api-keys", { label: "escape", organizationId: "org_missing" });
    refused(toPersonal);
    expect([toForeign.status, toForeign.text]).toEqual([toPersonal.status, toPersonal.text]);
    expect([toMissing.status, toMissing.text]).toEqual([toPersonal.status, toPersonal.text]);
    expect(await counts()).toEqual(before);
  });

  it("app keys follow the same rule: no full-access or write app key from a read-only admin key", async () => {
    const adminKey = await pageKey(alice, ["mcp:read", "orgs:write"], acme);
    const app = (await api(adminKey).post(`/api/orgs/${acme}/apps`, { name: "bot" }).expect(201)).body.id as string;
    const before = await counts();
    refused(await api(adminKey).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "all" }));
    refused(await api(adminKey).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "w", scopes: ["mcp:write"] }), "mcp:write");
    // a key acting in another organisation (alice's personal, full access) cannot mint Acme's app keys either
    refused(await api(aliceFull).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "all" }));
    const bad = await api(adminKey).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "mgmt", scopes: ["keys:write"] });
    expect(bad.status).toBe(400);
    expect(await counts()).toEqual(before);
    const ok = await api(adminKey).post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "r", scopes: ["mcp:read"] });
    expect(ok.status, ok.text).toBe(201);
    expect((await mcp(ok.body.key, toolCall("notes_add", { text: "no" }))).status).toBe(403);
  });

  it("a full-access key keeps the user's full access (like a classic token): it mints anything in its organisation", async () => {
    const full = await api(aliceFull).post("/api/api-keys", { label: "full again" });
    expect(full.status, full.text).toBe(201);
    expect(full.body.scopes).toEqual([]);
    expect((await mcp(full.body.key, toolCall("notes_add", { text: "yes" }))).status).toBe(200);
    expect((await api(full.body.key).post("/api/orgs", { name: "Side project" })).status).toBe(201);
  });
});

describe("OAuth clients cannot obtain management scopes", () => {
  it("asking for keys:write or orgs:write at /auth is invalid_scope, sent back to the client", async () => {
    const reg = await register(server);
    const { challenge } = pkcePair();
    for (const scope of ["mcp:read keys:write", "orgs:write"]) {
      const res = await follow(alice.agent, server, authorizeUrl({ clientId: reg.body.client_id, challenge, method: "S256", scope }));
      const back = new URL(res.location!);
      expect(back.searchParams.get("error")).toBe("invalid_scope");
      expect(back.searchParams.get("code")).toBeNull();
    }
  });

  it("they are not advertised, and an operator's catalogue cannot claim their names", async () => {
    const meta = await request(server.url).get("/.well-known/oauth-authorization-server").expect(200);
    for (const s of ["keys:read", "keys:write", "orgs:read", "orgs:write"]) expect(meta.body.scopes_supported).not.toContain(s);
    expect(() => loadConfig({ SCOPES: "mcp:read keys:write" })).toThrow(/keys:write" is reserved for Keyward's own API/);
  });
});
