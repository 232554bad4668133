// An OAuth key carries exactly what the user approved (issue 22 items 1 and 16): a client cannot
// widen its access by authorizing again with fewer scopes (an empty resource scope set is no access,
// not "everything"), nor get a refused scope back without the user seeing a consent page; and the
// identity scopes the user approved (openid, email) stay on the key, so userinfo (/me) answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { rowFor } from "./support/test-db.js";
import { BY_OPERATOR } from "./support/acting.js";

let server: TestServer;
let user: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  server = await startTestServer();
  user = await signUp(server);
});
afterAll(async () => server?.close());

const resource = () => `${server.url}/mcp`;
const call = (raw: string, name: string, args: Record<string, unknown> = {}) =>
  request(server.url)
    .post("/mcp")
    .set("Authorization", `Bearer ${raw}`)
    .set("Accept", "application/json, text/event-stream")
    .send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } });
const me = (raw: string) => request(server.url).get("/me").set("Authorization", `Bearer ${raw}`);
const keyRow = (raw: string) =>
  server.services.db.apiKey.findFirstOrThrow({ where: { last4: raw.slice(-4), source: "oauth" }, orderBy: { createdAt: "desc" } });

type Step = { consent: string | null; code: string | null; verifier: string };

/** Starts an authorization; `decide` answers a consent page (ticked scopes; null = Allow without the choice field). */
async function authorize(
  clientId: string,
  scope: string | undefined,
  decide: (page: string) => string[] | null = () => null,
  withResource = true,
): Promise<Step> {
  const pkce = pkcePair();
  const first = await follow(
    user.agent,
    server,
    authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope, resource: withResource ? resource() : undefined }),
  );
  if (first.location) return { consent: null, code: new URL(first.location).searchParams.get("code"), verifier: pkce.verifier };
  expect(first.status, first.text.slice(0, 300)).toBe(200);
  const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(first.text)![1]!;
  const ticked = decide(first.text);
  const form: Record<string, string | string[]> = { _csrf: csrfFrom(first.text) };
  if (ticked) Object.assign(form, { scope_choice: "1", scopes: ticked });
  const res = await user.agent.post(`/interaction/${uid}/confirm`).type("form").send(form).redirects(0);
  expect(res.status, res.text.slice(0, 300)).toBe(303);
  const done = await follow(user.agent, server, res.headers.location!);
  return { consent: first.text, code: new URL(done.location!).searchParams.get("code"), verifier: pkce.verifier };
}

async function keyOf(clientId: string, step: Step, withResource = true): Promise<string> {
  expect(step.code).toBeTruthy();
  const token = await exchange(server, {
    clientId,
    code: step.code!,
    verifier: step.verifier,
    resource: withResource ? resource() : undefined,
  });
  expect(token.status, token.text).toBe(200);
  return token.body.access_token as string;
}

const newClient = async () => (await register(server)).body.client_id as string;
const checkboxes = (page: string) => [...page.matchAll(/<input type="checkbox" name="scopes" value="([^"]+)"/g)].map((m) => m[1]);

describe("re-authorization cannot widen a grant", () => {
  it("the user unticks mcp:write; re-authorizing with scope=openid yields a key that cannot write (or read) notes", async () => {
    const clientId = await newClient();
    const first = await authorize(clientId, "openid mcp:read mcp:write", () => ["mcp:read"]);
    const readKey = await keyOf(clientId, first);
    expect((await call(readKey, "notes_add", { text: "no" })).status).toBe(403);

    for (const withResource of [true, false]) {
      const again = await authorize(clientId, "openid", undefined, withResource);
      expect(again.consent).toBeNull(); // nothing new was asked for: no page, and nothing new given
      const raw = await keyOf(clientId, again, withResource);
      const add = await call(raw, "notes_add", { text: "escalated" });
      expect(add.status, add.text).toBe(403);
      expect(add.body.error).toBe("insufficient_scope");
      expect((await call(raw, "notes_list")).status).toBe(403);
      expect((await keyRow(raw)).scopes).toBe("openid");
    }
    // Nothing was written with any of these keys.
    const list = await call(readKey, "notes_list");
    expect(list.body.result.structuredContent.notes).toEqual([]);
  });

  it("asking again for a scope the user unticked shows the consent page, offering just that scope", async () => {
    const clientId = await newClient();
    await keyOf(clientId, await authorize(clientId, "mcp:read mcp:write", () => ["mcp:read"]));

    // Unticked again: the client hears no, and its earlier key stays read-only.
    const refused = await authorize(clientId, "mcp:read mcp:write", (page) => {
      expect(checkboxes(page)).toEqual(["mcp:write"]);
      expect(page).toMatch(/Already allowed: <code>mcp:read<\/code>/);
      return [];
    });
    expect(refused.consent).not.toBeNull();
    expect(refused.code).toBeNull();

    // Ticked this time: the new key may write.
    const allowed = await authorize(clientId, "mcp:read mcp:write", (page) => {
      expect(checkboxes(page)).toEqual(["mcp:write"]);
      return ["mcp:write"];
    });
    const raw = await keyOf(clientId, allowed);
    expect((await call(raw, "notes_add", { text: "approved" })).status).toBe(200);
    expect((await keyRow(raw)).scopes).toBe("mcp:read mcp:write");
  });

  it("a first authorization asking only for openid says so on the consent page and gives no resource access", async () => {
    const clientId = await newClient();
    const step = await authorize(clientId, "openid");
    expect(step.consent).not.toContain("full access");
    expect(step.consent).toContain("No access to");
    expect(checkboxes(step.consent!)).toEqual([]);
    const raw = await keyOf(clientId, step);
    expect((await call(raw, "notes_add", { text: "x" })).status).toBe(403);
    expect((await call(raw, "whoami")).status).toBe(403);
  });

  it("a client without a scope parameter still gets the whole catalogue, after consent", async () => {
    const clientId = await newClient();
    const step = await authorize(clientId, undefined);
    expect(checkboxes(step.consent!)).toEqual(["mcp:read", "mcp:write"]);
    const raw = await keyOf(clientId, step);
    expect((await call(raw, "notes_add", { text: "default" })).status).toBe(200);
  });

  it("portal keys without scopes keep the user's full access; identity scopes cannot be minted on them", async () => {
    const page = await user.agent.get("/app/account/api-keys").expect(200);
    const withSession = await user.agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", csrfFrom(page.text))
      .send({ label: "identity", scopes: ["openid"] });
    expect(withSession.status, withSession.text).toBe(400);
    expect(withSession.body.error_description).toContain("Unknown scope: openid");
    const full = await user.agent.post("/api/api-keys").set("X-CSRF-Token", csrfFrom(page.text)).send({ label: "full" });
    expect(full.status).toBe(201);
    expect((await call(full.body.key as string, "notes_add", { text: "portal" })).status).toBe(200);
  });

  it("an OAuth key row with no scopes (as the defect wrote them) has no access, and the page says None", async () => {
    const owner = await server.services.db.user.findUniqueOrThrow({ where: { email: user.email } });
    const { raw, key } = await server.services.keys.mint(
      { userId: owner.id, label: "OAuth: written before the fix", source: "oauth", clientId: await newClient(), scopes: [] },
      BY_OPERATOR,
    );
    expect((await call(raw, "notes_add", { text: "x" })).status).toBe(403);
    expect((await call(raw, "notes_list")).status).toBe(403);
    const page = await user.agent.get("/app/account/api-keys").expect(200);
    expect(rowFor(page.text, key.id)).toContain('<td data-label="Scopes">None</td>');
  });
});

describe("OIDC userinfo", () => {
  it("a key issued for openid email mcp:read answers /me, and the identity scopes give no resource access", async () => {
    const clientId = await newClient();
    const raw = await keyOf(clientId, await authorize(clientId, "openid email mcp:read"));
    const res = await me(raw);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ sub: expect.any(String), email: user.email });
    const who = await call(raw, "whoami");
    expect(who.status).toBe(200);
    expect(who.body.result.structuredContent.userId).toBe(res.body.sub);
    expect(who.body.result.structuredContent.effectiveScopes).toEqual(["mcp:read"]);
    expect((await call(raw, "notes_add", { text: "x" })).status).toBe(403);
    const listed = await user.agent.get("/api/api-keys").expect(200);
    const view = (listed.body.data as { last4: string; scopes: string[]; source: string }[]).find(
      (k) => k.source === "oauth" && raw.endsWith(k.last4),
    );
    expect(view?.scopes).toEqual(["openid", "email", "mcp:read"]);
  });

  it("openid without email: /me gives the subject only; a key without openid gets insufficient_scope", async () => {
    const clientId = await newClient();
    const withOpenid = await keyOf(clientId, await authorize(clientId, "openid mcp:read"));
    const res = await me(withOpenid);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body)).toEqual(["sub"]);

    const other = await newClient();
    const without = await keyOf(other, await authorize(other, "mcp:read"));
    const refused = await me(without);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("insufficient_scope");
  });
});
