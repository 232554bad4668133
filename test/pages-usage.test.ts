// Usage on the account pages (issue 28 item 5): the key detail page's chart and numbers equal the
// requests sent and the JSON API's; another user's key id is the 404 of a missing id; revoked keys
// still have a page; stale keys (not used for 90 days) are highlighted and revoked together after a
// confirmation, through the revoke path (audit events, the key stops working), keeping a key used
// meanwhile; Connected apps shows each client's usage.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";

let server: TestServer;
let alice: Person;
let bob: Person;
let aliceId: string;

const whoami = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };
const addNote = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "notes_add", arguments: { text: "hi" } } };
const mcp = (raw: string, body: object = whoami) =>
  request(server.url).post("/mcp").set("Authorization", `Bearer ${raw}`).set("Accept", "application/json, text/event-stream").send(body);

const idOf = async (raw: string) => {
  const res = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${raw}`).expect(200);
  return (res.body as { data: { id: string; last4: string }[] }).data.find((k) => raw.endsWith(k.last4))!.id;
};
/** The per-day table row of `date` on a rendered chart: [served, 401, 403, 429]. */
const dayRow = (html: string, date: string) => {
  const m = new RegExp(`<tr data-date="${date}">(.*?)</tr>`).exec(html);
  return m ? [...m[1]!.matchAll(/<td class="\w+">(\d+)<\/td>/g)].map((x) => Number(x[1])) : null;
};
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  server = await startTestServer({ LAST_USED_FLUSH_SECONDS: "3600" });
  alice = await signUp(server);
  bob = await signUp(server);
  aliceId = (await server.services.users.findByEmail(alice.email))!.id;
}, 60_000);
afterAll(async () => server?.close());

describe("the key detail page", () => {
  it("shows the requests sent, errors apart, the same numbers as the JSON API (after a flush and before it)", async () => {
    const { raw } = await mintOnPage(alice.agent, alice.csrf, "charted <key>", ["mcp:read", "keys:read"]);
    const id = await idOf(raw); // one JSON API request: counted too
    for (let i = 0; i < 6; i++) expect((await mcp(raw)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await mcp(raw, addNote)).status).toBe(403);
    const before = await alice.agent.get(`/app/account/api-keys/${id}`).expect(200); // this server's pending counts included
    await server.services.keys.tracker.flush();
    const page = await alice.agent.get(`/app/account/api-keys/${id}`).expect(200);
    expect(dayRow(before.text, today())).toEqual([7, 0, 2, 0]);
    expect(dayRow(page.text, today())).toEqual([7, 0, 2, 0]);
    expect(page.text).toContain("7 requests served, 2 refusals (401: 0, 403: 2, 429: 0)");
    expect(page.text).toMatch(/<svg class="usage-chart"[^>]*role="img" aria-labelledby="key-usage-title key-usage-desc"/);
    expect(page.text).toContain("Requests per day for the key “charted &lt;key&gt;”");
    expect(page.text).not.toContain("charted <key>");
    expect(page.text).toContain(`<g class="day" data-date="${today()}">`);
    const api = await alice.agent.get(`/api/api-keys/${id}/usage`).expect(200);
    expect(api.body.totals).toEqual({ requests: 7, unauthorized: 0, forbidden: 2, limited: 0 });
    const day = (api.body as { days: { date: string; requests: number; forbidden: number }[] }).days.at(-1)!;
    expect([day.requests, day.forbidden]).toEqual([7, 2]);
  });

  it("another user's key id is exactly the 404 of a missing id; a revoked key still has its page", async () => {
    const { raw } = await mintOnPage(bob.agent, bob.csrf, "bob's", ["keys:read"]);
    const bobsId = await idOf(raw);
    const other = await alice.agent.get(`/app/account/api-keys/${bobsId}`);
    const missing = await alice.agent.get(`/app/account/api-keys/key_doesnotexist`);
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.text.replaceAll(bobsId, "")).toBe(missing.text.replaceAll("key_doesnotexist", ""));
    expect(other.text).not.toContain("bob&#39;s");
    const anonymous = await request(server.url).get(`/app/account/api-keys/${bobsId}`);
    expect(anonymous.status).not.toBe(200);

    await server.services.keys.revoke(
      { kind: "own", userId: (await server.services.users.findByEmail(bob.email))!.id, id: bobsId },
      BY_OPERATOR,
    );
    expect((await mcp(raw)).status).toBe(401); // counted for the key: it is known
    await server.services.keys.tracker.flush();
    const page = await bob.agent.get(`/app/account/api-keys/${bobsId}`).expect(200);
    expect(page.text).toContain("Revoked");
    expect(dayRow(page.text, today())).toEqual([1, 1, 0, 0]);
  });

  it("each key in the list links to its page", async () => {
    const list = await alice.agent.get("/app/account/api-keys").expect(200);
    const ids = [...list.text.matchAll(/data-key-id="(key_[0-9A-Za-z]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(list.text).toContain(`href="/app/account/api-keys/${id}"`);
  });
});

describe("stale keys", () => {
  /** A key of Alice's made 100 days ago and (optionally) last used then. */
  async function oldKey(label: string, used: boolean) {
    const minted = await server.services.keys.mint({ userId: aliceId, label, source: "portal" }, BY_OPERATOR);
    const then = new Date(Date.now() - 100 * 86_400_000);
    await server.services.db.apiKey.update({ where: { id: minted.key.id }, data: { createdAt: then, lastUsedAt: used ? then : null } });
    return minted;
  }

  it("are highlighted, and “revoke all stale keys” revokes them after a confirmation (audited), keeping one used meanwhile", async () => {
    const never = await oldKey("never used", false);
    const long = await oldKey("used long ago", true);
    const revived = await oldKey("used again", true);
    const fresh = await server.services.keys.mint({ userId: aliceId, label: "fresh", source: "portal" }, BY_OPERATOR);

    const list = await alice.agent.get("/app/account/api-keys").expect(200);
    for (const k of [never, long, revived])
      expect(list.text).toMatch(new RegExp(`<tr class="[^"]*\\bstale\\b[^"]*" data-key-id="${k.key.id}"`));
    expect(list.text).toMatch(new RegExp(`<tr class="" data-key-id="${fresh.key.id}"`));
    expect(list.text).toContain("3 keys not used for 90 days");
    expect(list.text).toContain('href="/app/account/api-keys/revoke-stale"');

    const confirm = await alice.agent.get("/app/account/api-keys/revoke-stale").expect(200);
    expect(confirm.text).toContain("Revoke all 3 stale keys?");
    for (const label of ["never used", "used long ago", "used again"]) expect(confirm.text).toContain(`“${label}”`);
    expect(confirm.text).not.toContain("“fresh”");
    const ids = /name="ids" value="([^"]+)"/.exec(confirm.text)![1]!;

    // A POST without the confirmation's "yes" only shows the page again.
    const unconfirmed = await alice.agent.post("/app/account/api-keys/revoke-stale").type("form").send({ _csrf: alice.csrf, ids });
    expect(unconfirmed.status).toBe(200);
    expect((await mcp(never.raw)).status).toBe(200);

    // "never used" was just used: it is no longer stale, and the confirmed revoke keeps it.
    const done = await alice.agent
      .post("/app/account/api-keys/revoke-stale")
      .type("form")
      .send({ _csrf: csrfFrom(confirm.text), confirm: "yes", ids });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe("/app/account/api-keys?revokedCount=2");
    expect((await mcp(long.raw)).status).toBe(401);
    expect((await mcp(revived.raw)).status).toBe(401);
    expect((await mcp(never.raw)).status).toBe(200);
    expect((await mcp(fresh.raw)).status).toBe(200);
    const events = await server.services.db.auditEvent.findMany({
      where: { action: "key.revoked", targetId: { in: [long.key.id, revived.key.id] } },
    });
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.actorType === "user" && e.actorId === aliceId)).toBe(true);
  });

  it("the stale revoke needs the CSRF token, and with nothing stale it revokes nothing", async () => {
    const stale = await oldKey("csrf check", false);
    const forged = await alice.agent.post("/app/account/api-keys/revoke-stale").type("form").send({ confirm: "yes", ids: stale.key.id });
    expect(forged.status).toBe(403);
    expect((await mcp(stale.raw)).status).toBe(200); // used: no longer stale
    const res = await alice.agent
      .post("/app/account/api-keys/revoke-stale")
      .type("form")
      .send({ _csrf: alice.csrf, confirm: "yes", ids: stale.key.id });
    expect(res.headers.location).toBe("/app/account/api-keys?staleNone=1");
    expect((await mcp(stale.raw)).status).toBe(200);
    // Bob cannot revoke Alice's stale key by posting its id: only his own stale keys are ever revoked.
    const other = await oldKey("alice only", false);
    const bobPost = await bob.agent
      .post("/app/account/api-keys/revoke-stale")
      .type("form")
      .send({ _csrf: bob.csrf, confirm: "yes", ids: other.key.id });
    expect(bobPost.status).toBe(303);
    expect((await mcp(other.raw)).status).toBe(200);
  });
});

describe("Connected apps", () => {
  it("shows each client's usage: the sum over its keys", async () => {
    const mint = () =>
      server.services.keys.mint(
        {
          userId: aliceId,
          label: "OAuth: Chart <App>",
          source: "oauth",
          clientId: "dcr_chart",
          scopes: ["mcp:read"],
          resources: [`${server.config.baseUrl}/mcp`],
        },
        BY_OPERATOR,
      );
    const [one, two] = [await mint(), await mint()];
    for (let i = 0; i < 3; i++) expect((await mcp(one.raw)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await mcp(two.raw)).status).toBe(200);
    expect((await mcp(two.raw, addNote)).status).toBe(403);
    await server.services.keys.tracker.flush();
    const page = await alice.agent.get("/app/account/connected-apps").expect(200);
    const section = page.text.slice(page.text.indexOf('data-client-id="dcr_chart"'));
    expect(section).toContain("5 requests served, 1 refusal (401: 0, 403: 1, 429: 0)");
    expect(dayRow(section, today())).toEqual([5, 0, 1, 0]);
    expect(section).toContain("Chart &lt;App&gt;");
  });
});
