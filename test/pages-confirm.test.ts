// Issue 27 item 5, from the outside: what cannot be undone (disconnecting an app, removing a member,
// changing a role, revoking a member's or an app's key) shows a confirmation page first (Cancel
// first and focused), and a POST without that page's `confirm=yes` does not act. Refused forms show
// their page again with the message next to the form and the input kept (400/403), never a bare error page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { createOrg, joinOrg, mintIn } from "./support/orgs.js";
import { mcpStatus } from "./support/mcp-status.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";

let server: TestServer;
let alice: Person; // owner of Acme
let bob: Person; // member
let carol: Person; // member whose role changes
let aliceRoot: string;
let acme: string;
let bobId: string;
let carolId: string;
const ORG_NAME = `Acme <script>alert("org")</script>`;

const works = (raw: string) => mcpStatus(server, raw);
const api = (raw: string) => ({
  post: (path: string, body: object) => request(server.url).post(path).set("Authorization", `Bearer ${raw}`).send(body),
});
const roleOf = async (userId: string) =>
  (await server.services.db.membership.findUnique({ where: { organizationId_userId: { organizationId: acme, userId } } }))?.role ?? null;
const userIdOf = async (p: Person) => (await server.services.db.user.findUniqueOrThrow({ where: { email: p.email } })).id;

/** Alice sends a confirmation form with `confirm=yes` and the CSRF token given (plus `fields`). */
const aliceConfirms = (path: string, csrf: string, fields: Record<string, string> = {}) =>
  alice.agent
    .post(path)
    .type("form")
    .send({ _csrf: csrf, ...fields, confirm: "yes" })
    .redirects(0);

/** A confirmation page: says what happens, Cancel comes first and is focused, the form sends confirm=yes. */
function expectConfirmation(html: string, words: string[]) {
  for (const w of words) expect(html).toContain(w);
  const cancel = html.indexOf(">Cancel</a>");
  const submit = html.indexOf('type="submit" class="danger"');
  expect(cancel).toBeGreaterThan(0);
  expect(submit).toBeGreaterThan(cancel);
  expect(html).toMatch(/<a class="button secondary" href="[^"]+" autofocus>Cancel<\/a>/);
  expect(html).toContain('name="confirm" value="yes"');
  expect(html).not.toContain("<script>alert");
}

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol] = [await signUp(server), await signUp(server), await signUp(server)];
  aliceRoot = (await mintOnPage(alice.agent, alice.csrf, "alice")).raw;
  acme = await createOrg(server, aliceRoot, ORG_NAME);
  bobId = await joinOrg(server, aliceRoot, acme, bob, "member");
  carolId = await joinOrg(server, aliceRoot, acme, carol, "member");
});
afterAll(async () => server?.close());

describe("confirm what cannot be undone", () => {
  it("removing a member: the GET and a bare POST only ask; confirm=yes removes, and their key stops", async () => {
    const bobKey = await mintIn(bob, acme);
    const path = `/app/orgs/${acme}/members/${bobId}/remove`;
    const page = await alice.agent.get(path).expect(200);
    expectConfirmation(page.text, [`Remove ${bob.email} from`, "cannot be undone"]);
    const bare = await alice.agent.post(path).type("form").send({ _csrf: alice.csrf }).redirects(0);
    expect(bare.status).toBe(200);
    expectConfirmation(bare.text, [`Remove ${bob.email}`]);
    expect(await roleOf(bobId)).toBe("member");
    expect(await works(bobKey)).toBe(200);
    const done = await aliceConfirms(path, csrfFrom(page.text));
    expect(done.status).toBe(303);
    expect(await roleOf(bobId)).toBeNull();
    expect(await works(bobKey)).toBe(401);
  });

  it("changing a role: the row's form asks first (the new role carried along), confirm=yes changes it", async () => {
    const path = `/app/orgs/${acme}/members/${carolId}/role`;
    const bare = await alice.agent.post(path).type("form").send({ _csrf: alice.csrf, role: "viewer" }).redirects(0);
    expect(bare.status).toBe(200);
    expectConfirmation(bare.text, [`Make ${carol.email} viewer`, "is member now and will be viewer"]);
    expect(bare.text).toContain('name="role" value="viewer"');
    expect(await roleOf(carolId)).toBe("member");
    expect((await alice.agent.get(`${path}?role=admin`).expect(200)).text).toContain(`Make ${carol.email} admin`);
    const done = await aliceConfirms(path, alice.csrf, { role: "viewer" });
    expect(done.status).toBe(303);
    expect(await roleOf(carolId)).toBe("viewer");
  });

  it("revoking a member's key from the organisation page asks first; a foreign id is the same 404 as a missing one", async () => {
    const carolKey = await mintIn(carol, acme);
    const id = (
      await server.services.db.apiKey.findFirstOrThrow({
        where: { organizationId: acme, userId: carolId, revokedAt: null },
        orderBy: { createdAt: "desc" },
      })
    ).id;
    const path = `/app/orgs/${acme}/keys/${id}/revoke`;
    expectConfirmation((await alice.agent.get(path).expect(200)).text, [`Revoke ${carol.email}&#39;s key ending in`]);
    expect((await alice.agent.post(path).type("form").send({ _csrf: alice.csrf }).redirects(0)).status).toBe(200);
    expect(await works(carolKey)).toBe(200);
    const foreign = (await mintOnPage(bob.agent, bob.csrf, "bob personal")).raw;
    const foreignId = (
      await server.services.db.apiKey.findFirstOrThrow({
        where: { userId: await userIdOf(bob), revokedAt: null },
        orderBy: { createdAt: "desc" },
      })
    ).id;
    const missing = await alice.agent.get(`/app/orgs/${acme}/keys/nope/revoke`);
    const other = await alice.agent.get(`/app/orgs/${acme}/keys/${foreignId}/revoke`);
    expect(missing.status).toBe(404);
    expect(other.status).toBe(404);
    expect(await works(foreign)).toBe(200);
    expect((await aliceConfirms(path, alice.csrf)).status).toBe(303);
    expect(await works(carolKey)).toBe(401);
  });

  it("revoking an app key asks first", async () => {
    const inAcme = await mintIn(alice, acme);
    const app = (await api(inAcme).post(`/api/orgs/${acme}/apps`, { name: "bot <b>x</b>" }).expect(201)).body.id as string;
    const minted = await api(inAcme)
      .post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "bot key", scopes: ["mcp:read"] })
      .expect(201);
    const path = `/app/orgs/${acme}/apps/${app}/keys/${minted.body.id}/revoke`;
    const page = await alice.agent.get(path).expect(200);
    expectConfirmation(page.text, ["bot &lt;b&gt;x&lt;/b&gt;", "cannot be undone"]);
    expect((await alice.agent.post(path).type("form").send({ _csrf: alice.csrf }).redirects(0)).status).toBe(200);
    expect(await works(minted.body.key)).toBe(200);
    expect((await aliceConfirms(path, alice.csrf)).status).toBe(303);
    expect(await works(minted.body.key)).toBe(401);
  });

  it("disconnecting an app asks first, naming the app (escaped); confirm=yes revokes its keys", async () => {
    const clientId = (await register(server, { client_name: `Evil <script>alert("app")</script>` })).body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(alice.agent, server, { clientId, resource: `${server.url}/mcp`, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier, resource: `${server.url}/mcp` });
    const key = token.body.access_token as string;
    expect(await works(key)).toBe(200);
    const path = `/app/account/connected-apps/${encodeURIComponent(clientId)}/disconnect`;
    const page = await alice.agent.get(path).expect(200);
    expectConfirmation(page.text, ["Disconnect Evil &lt;script&gt;", "cannot be undone"]);
    expect((await alice.agent.post(path).type("form").send({ _csrf: alice.csrf }).redirects(0)).status).toBe(200);
    expect(await works(key)).toBe(200);
    // someone else's connected app: the same 404 as a missing one
    expect((await bob.agent.get(path)).status).toBe(404);
    expect((await bob.agent.post(path).type("form").send({ _csrf: bob.csrf, confirm: "yes" })).status).toBe(404);
    expect(await works(key)).toBe(200);
    expect((await aliceConfirms(path, alice.csrf)).status).toBe(303);
    expect(await works(key)).toBe(401);
  });
});

describe("errors shown on the form that caused them, input kept", () => {
  it("demoting the last owner: 400 on the organisation page, the message in the Members card, nothing changed", async () => {
    const aliceId = await userIdOf(alice);
    const res = await alice.agent
      .post(`/app/orgs/${acme}/members/${aliceId}/role`)
      .type("form")
      .send({ _csrf: alice.csrf, role: "member", confirm: "yes" });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/<p class="alert error" role="alert" id="members-error">An organisation needs at least one owner\.<\/p>/);
    expect(res.text).toContain("<h2>Members</h2>");
    expect(res.text).not.toContain("Error 400");
    expect(await roleOf(aliceId)).toBe("owner");
  });

  it("inviting a malformed address: 400, the message next to the invite form, the address kept (escaped)", async () => {
    const typed = `not-an-address"><script>alert(1)</script>`;
    const res = await alice.agent.post(`/app/orgs/${acme}/members`).type("form").send({ _csrf: alice.csrf, email: typed, role: "admin" });
    expect(res.status).toBe(400);
    expect(res.text).toContain('id="invite-error"');
    expect(res.text).toContain('value="not-an-address&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(res.text).toMatch(/<option value="admin" selected>/);
    expect(res.text).not.toContain("<script>alert(1)");
    expect(await server.services.db.invitation.count({ where: { organizationId: acme } })).toBe(0);
  });

  it("a stale CSRF token: 403, the page again with a fresh working form, nothing done", async () => {
    const dave = await signUp(server);
    const daveId = await joinOrg(server, aliceRoot, acme, dave, "member");
    const path = `/app/orgs/${acme}/members/${daveId}/remove`;
    const stale = await alice.agent.post(path).type("form").send({ _csrf: "stale-token-from-an-old-tab", confirm: "yes" });
    expect(stale.status).toBe(403);
    expect(stale.text).toContain("Nothing was changed: this form was out of date");
    expect(stale.text).toContain("<h2>Members</h2>");
    expect(await roleOf(daveId)).toBe("member");
    const again = await aliceConfirms(path, csrfFrom(stale.text));
    expect(again.status).toBe(303);
    expect(await roleOf(daveId)).toBeNull();
  });

  it("a stale CSRF token on a disconnect: 403 on the Connected apps page", async () => {
    const res = await alice.agent
      .post(`/app/account/connected-apps/anything/disconnect`)
      .type("form")
      .send({ _csrf: "stale", confirm: "yes" });
    expect(res.status).toBe(403);
    expect(res.text).toContain("<h1>Connected apps</h1>");
    expect(res.text).toContain("Nothing was changed");
  });

  it("the app page: a refused label (400) and a stale CSRF token (403) come back on the app page, next to the mint form, label kept and escaped", async () => {
    const app = (
      await api(await mintIn(alice, acme))
        .post(`/api/orgs/${acme}/apps`, { name: "inline bot" })
        .expect(201)
    ).body.id as string;
    const path = `/app/orgs/${acme}/apps/${app}/keys`;
    const page = await alice.agent.get(`/app/orgs/${acme}/apps/${app}`).expect(200);
    const typed = `bad\u0007"><b>label</b>`;
    const refused = await alice.agent
      .post(path)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), label: typed });
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/<p class="alert error" role="alert" id="app-key-error">[^<]*control characters[^<]*<\/p>/);
    expect(refused.text).toContain("<h2>Mint an app key</h2>");
    expect(refused.text).toContain('aria-describedby="app-key-error"');
    expect(refused.text).not.toContain("<b>label</b>");
    expect(refused.text).not.toContain("Error 400");
    const stale = await alice.agent.post(path).type("form").send({ _csrf: "stale-token", label: "kept label" });
    expect(stale.status).toBe(403);
    expect(stale.text).toContain("Nothing was changed: this form was out of date");
    expect(stale.text).toContain('value="kept label"');
    const minted = await alice.agent
      .post(path)
      .type("form")
      .send({ _csrf: csrfFrom(stale.text), label: "kept label" });
    expect(minted.status).toBe(201);
  });

  it("someone who is not in the organisation still gets the bare 404 (the page says nothing more)", async () => {
    const eve = await signUp(server);
    const res = await eve.agent.post(`/app/orgs/${acme}/members/${bobId}/remove`).type("form").send({ _csrf: eve.csrf, confirm: "yes" });
    expect(res.status).toBe(404);
    expect(res.text).not.toContain("<h2>Members</h2>");
  });
});

describe("confirmation URLs written differently (trailing slash, case, percent-encoded ids), other people's ids", () => {
  const LITERAL = /^(app|orgs|members|remove|role|keys|apps|revoke|account|connected-apps|disconnect)$/;
  /** The same path written differently (ids are case-sensitive: only the fixed words change case); each must answer like the path. */
  const spellings = (path: string) => {
    const parts = path.split("/");
    const upper = parts.map((p) => (LITERAL.test(p) ? p.toUpperCase() : p)).join("/");
    const id = parts.at(-2)!;
    const encoded = [...id].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).join("");
    return [path, `${path}/`, upper, [...parts.slice(0, -2), encoded, parts.at(-1)].join("/")];
  };

  it("a foreign or missing id under every spelling: the same 404, for the page and for a confirmed POST; nothing changes", async () => {
    const eve = await signUp(server);
    const eveRoot = (await mintOnPage(eve.agent, eve.csrf, "eve")).raw;
    const evil = await createOrg(server, eveRoot, "Evil");
    const frank = await signUp(server);
    const frankId = await joinOrg(server, eveRoot, evil, frank, "member");
    const eveKeyId = (await server.services.db.apiKey.findFirstOrThrow({ where: { userId: await userIdOf(eve), revokedAt: null } })).id;
    const evilApp = (await api(eveRoot).post(`/api/orgs/${evil}/apps`, { name: "evil app" })).body.id as string;
    const cases = [
      { foreign: `/app/orgs/${acme}/members/${frankId}/remove`, missing: `/app/orgs/${acme}/members/usr_missing/remove` },
      { foreign: `/app/orgs/${acme}/members/${frankId}/role`, missing: `/app/orgs/${acme}/members/usr_missing/role` },
      { foreign: `/app/orgs/${acme}/keys/${eveKeyId}/revoke`, missing: `/app/orgs/${acme}/keys/key_missing/revoke` },
      { foreign: `/app/orgs/${acme}/apps/${evilApp}/keys/${eveKeyId}/revoke`, missing: `/app/orgs/${acme}/apps/app_missing/keys/k/revoke` },
    ];
    const before = await Promise.all([roleOf(frankId), works(eveRoot)]);
    for (const { foreign, missing } of cases) {
      const expected = await alice.agent.get(missing);
      expect(expected.status, missing).toBe(404);
      for (const url of spellings(foreign)) {
        const page = await alice.agent.get(url).redirects(0);
        expect(page.status, url).toBe(404);
        expect(page.text, url).toBe(expected.text);
        const post = await alice.agent.post(url).type("form").send({ _csrf: alice.csrf, confirm: "yes", role: "viewer" }).redirects(0);
        expect(post.status, url).toBe(404);
      }
    }
    expect(await Promise.all([roleOf(frankId), works(eveRoot)])).toEqual(before);
    expect(
      (await server.services.db.membership.findUnique({ where: { organizationId_userId: { organizationId: evil, userId: frankId } } }))
        ?.role,
    ).toBe("member");
  });

  it("someone outside the organisation gets the bare 404 under every spelling of a real member's URL", async () => {
    const outsider = await signUp(server);
    const expected = await outsider.agent.get(`/app/orgs/org_missing/members/usr_missing/remove`);
    expect(expected.status).toBe(404);
    for (const url of spellings(`/app/orgs/${acme}/members/${carolId}/remove`)) {
      const page = await outsider.agent.get(url).redirects(0);
      expect(page.status, url).toBe(404);
      expect(page.text, url).toBe(expected.text);
      expect((await outsider.agent.post(url).type("form").send({ _csrf: outsider.csrf, confirm: "yes" }).redirects(0)).status, url).toBe(
        404,
      );
    }
    expect(await roleOf(carolId)).not.toBeNull();
  });

  it("a real target under every spelling: the page asks, a bare POST only asks, a confirmed POST without the CSRF token is refused", async () => {
    const grace = await signUp(server);
    const graceId = await joinOrg(server, aliceRoot, acme, grace, "member");
    const graceKey = await mintIn(grace, acme);
    for (const url of spellings(`/app/orgs/${acme}/members/${graceId}/remove`)) {
      expectConfirmation((await alice.agent.get(url).expect(200)).text, [`Remove ${grace.email} from`]);
      const bare = await alice.agent.post(url).type("form").send({ _csrf: alice.csrf }).redirects(0);
      expect(bare.status, url).toBe(200);
      expectConfirmation(bare.text, [`Remove ${grace.email}`]);
      expect((await alice.agent.post(url).type("form").send({ confirm: "yes" }).redirects(0)).status, url).toBe(403);
      expect(await roleOf(graceId), url).toBe("member");
    }
    expect(await works(graceKey)).toBe(200);
    // a logged-out browser is sent to log in, whatever the spelling
    for (const url of spellings(`/app/orgs/${acme}/members/${graceId}/remove`)) {
      const anonymous = await request(server.url).get(url).redirects(0);
      expect(anonymous.status, url).toBe(302);
      expect(anonymous.headers.location, url).toMatch(/^\/login\?return_to=/);
    }
  });

  it("disconnecting: another user's connected app is the same 404 as a missing one under every spelling", async () => {
    const clientId = (await register(server, { client_name: "Variant app" })).body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(alice.agent, server, { clientId, resource: `${server.url}/mcp`, scope: "mcp:read" });
    const key = (await exchange(server, { clientId, code, verifier, resource: `${server.url}/mcp` })).body.access_token as string;
    const other = await signUp(server);
    const expected = await other.agent.get(`/app/account/connected-apps/${encodeURIComponent("missing-client")}/disconnect`);
    expect(expected.status).toBe(404);
    for (const url of spellings(`/app/account/connected-apps/${encodeURIComponent(clientId)}/disconnect`)) {
      const page = await other.agent.get(url).redirects(0);
      expect(page.status, url).toBe(404);
      expect(page.text, url).toBe(expected.text);
      expect((await other.agent.post(url).type("form").send({ _csrf: other.csrf, confirm: "yes" }).redirects(0)).status, url).toBe(404);
    }
    expect(await works(key)).toBe(200);
  });
});
