// Issue 28 item 3: IP allowlists on portal, app and OAuth keys (and an OAuth client's keys, set on
// Connected apps), checked from the outside: the status a request gets from an address in or out
// of the list, at /mcp, the gateway and the JSON API; a spoofed X-Forwarded-For is believed only
// from a trusted proxy; bad CIDRs are refused with words; a change holds on the next request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { parseAllowlist, parseRange } from "../src/keys/limits/cidr.js";
import { csrfFrom, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { startWithKeyAndResource } from "./support/keys.js";
import { createApp, createOrg } from "./support/orgs.js";
import { BY_OPERATOR } from "./support/acting.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import type { RecordingUpstream } from "./support/upstreams.js";
import { expectError, keyward, keywardInProcess } from "./support/cli-run.js";

const WHOAMI = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };
const DENIED = "The key is not allowed from this client IP address (its IP allowlist does not include it)";

const mcp = (server: TestServer, raw: string, xff?: string) => {
  const r = request(server.url).post("/mcp").set("Authorization", `Bearer ${raw}`).set("Accept", "application/json, text/event-stream");
  return (xff === undefined ? r : r.set("X-Forwarded-For", xff)).send(WHOAMI);
};

describe("parsing (strict, with words)", () => {
  it.each([
    ["203.0.113.0/24", "203.0.113.0/24"],
    ["203.0.113.7", "203.0.113.7/32"],
    ["2001:DB8::/32", "2001:db8::/32"],
    ["2001:db8:0:0::1", "2001:db8::1/128"],
    ["::ffff:203.0.113.0/120", "203.0.113.0/24"],
    ["::ffff:203.0.113.9", "203.0.113.9/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["::/0", "::/0"],
  ])("%s → %s", (input, canonical) => {
    expect(parseRange(input)).toEqual({ ok: true, range: canonical });
  });

  it.each([
    ["203.0.113.5/24", "has bits set after its /24 prefix: did you mean 203.0.113.0/24?"],
    ["203.0.113.0/33", 'the prefix after "/" must be a number from 0 to 32'],
    ["2001:db8::/129", 'the prefix after "/" must be a number from 0 to 128'],
    ["10.0.0.0/08", 'the prefix after "/" must be a number from 0 to 32'],
    ["10.0.0.0/", 'the prefix after "/" must be a number from 0 to 32'],
    ["10.0.0.0/8/8", 'has more than one "/"'],
    ["fe80::1%eth0", "zone ids (%…) are not allowed"],
    ["example.com", "is not an IPv4 or IPv6 address"],
    ["010.0.0.1", "is not an IPv4 or IPv6 address"],
    ["256.0.0.0/8", "is not an IPv4 or IPv6 address"],
    ["[2001:db8::1]", "is not an IPv4 or IPv6 address"],
    ["203.0.113.1:443", "is not an IPv4 or IPv6 address"],
    ["::ffff:0.0.0.0/95", "an IPv4-mapped range needs a prefix of at least /96"],
  ])("%s is refused: %s", (input, words) => {
    const parsed = parseRange(input);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(words);
  });

  it("a list: spaces, commas, new lines; duplicates dropped; too many refused", () => {
    expect(parseAllowlist("10.0.0.0/8, 10.0.0.0/8\n2001:db8::/32")).toEqual({ ok: true, ranges: ["10.0.0.0/8", "2001:db8::/32"] });
    expect(parseAllowlist(Array.from({ length: 51 }, (_, i) => `10.0.${i}.0/24`))).toEqual({
      ok: false,
      message: "At most 50 IP ranges per allowlist",
    });
  });
});

describe("no trusted proxy (X-Forwarded-For is the client's own words)", () => {
  let server: TestServer;
  let person: Person;
  let admin: string;
  let userId: string;
  let upstream: RecordingUpstream;

  beforeAll(async () => {
    ({ server, person, userId, admin, upstream } = await startWithKeyAndResource({ slug: "tools", name: "Tools" }));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  const api = () => request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${admin}`);

  it("bad CIDRs at mint: 400 invalid_request naming the entry and the fault; nothing minted", async () => {
    const before = await server.services.db.apiKey.count({ where: { userId } });
    const res = await api().send({ label: "x", allowedIps: ["10.0.0.0/8", "203.0.113.5/24"] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: "invalid_request",
      error_description: 'allowedIps: IP allowlist: "203.0.113.5/24" has bits set after its /24 prefix: did you mean 203.0.113.0/24?',
    });
    const word = await api().send({ label: "x", allowedIps: "localhost" });
    expect(word.status).toBe(400);
    expect(word.body.error_description).toContain('"localhost" is not an IPv4 or IPv6 address');
    expect(await server.services.db.apiKey.count({ where: { userId } })).toBe(before);
  });

  it("a portal key limited elsewhere: 401 invalid_token saying why; a spoofed X-Forwarded-For changes nothing", async () => {
    const res = await api().send({ label: "office", allowedIps: "203.0.113.0/24, 2001:db8::/32" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    const refused = await mcp(server, res.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: "invalid_token", error_description: DENIED });
    expect(refused.headers["www-authenticate"]).toContain(`error="invalid_token", error_description="${DENIED}"`);
    expect((await mcp(server, res.body.key, "203.0.113.9")).status).toBe(401);
    expect((await mcp(server, res.body.key, "203.0.113.9, 203.0.113.10")).status).toBe(401);
  });

  it("a key limited to the test's own address (127.0.0.0/8) works; the same at the gateway and the JSON API", async () => {
    const ok = await api().send({ label: "here", allowedIps: ["127.0.0.0/8"] });
    expect((await mcp(server, ok.body.key)).status).toBe(200);
    const away = await api().send({ label: "away", allowedIps: ["198.51.100.0/24"] });
    const gw = (raw: string) =>
      request(server.url)
        .post("/mcp/tools")
        .set("Authorization", `Bearer ${raw}`)
        .set("Accept", "application/json, text/event-stream")
        .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect((await gw(ok.body.key)).status).toBe(200);
    const refused = await gw(away.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error_description).toBe(DENIED);
    expect(upstream.received).toHaveLength(1); // the refused request never reached the upstream
    const listed = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${away.body.key}`);
    expect(listed.status).toBe(401);
  });

  it("changed later (PATCH): the next request obeys; removed (null): works anywhere again; other user's id → the missing id's 404", async () => {
    const minted = await api().send({ label: "later" });
    const id = minted.body.id as string;
    expect((await mcp(server, minted.body.key)).status).toBe(200);
    const patch = (body: object, key = admin) =>
      request(server.url).patch(`/api/api-keys/${id}`).set("Authorization", `Bearer ${key}`).send(body);
    const set = await patch({ allowedIps: ["192.0.2.0/24"] });
    expect(set.status, set.text).toBe(200);
    expect(set.body.allowedIps).toEqual(["192.0.2.0/24"]);
    expect((await mcp(server, minted.body.key)).status).toBe(401);
    expect((await patch({ allowedIps: "192.0.2.0/33" })).status).toBe(400);
    const cleared = await patch({ allowedIps: null });
    expect(cleared.body.allowedIps).toBeNull();
    expect((await mcp(server, minted.body.key)).status).toBe(200);

    const other = await signUp(server);
    const otherId = (await server.services.users.findByEmail(other.email))!.id;
    const otherKey = (await server.services.keys.mint({ userId: otherId, label: "other", source: "portal" }, BY_OPERATOR)).raw;
    const foreign = await patch({ allowedIps: ["192.0.2.0/24"] }, otherKey);
    const missing = await request(server.url)
      .patch("/api/api-keys/key_doesnotexist0000000")
      .set("Authorization", `Bearer ${otherKey}`)
      .send({ allowedIps: ["192.0.2.0/24"] });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual(missing.body);
    expect((await mcp(server, minted.body.key)).status).toBe(200); // unchanged
    const events = await server.services.db.auditEvent.findMany({ where: { targetId: id, action: "key.limits_changed" } });
    expect(events).toHaveLength(2);
  });

  it("a limited key cannot lift limits (its own or another's) nor mint an unlimited key", async () => {
    const limited = await api().send({ label: "limited", allowedIps: ["127.0.0.1"] });
    const key = limited.body.key as string;
    const lift = await request(server.url)
      .patch(`/api/api-keys/${limited.body.id}`)
      .set("Authorization", `Bearer ${key}`)
      .send({ allowedIps: null });
    expect(lift.status).toBe(403);
    const child = await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).send({ label: "child" });
    expect(child.status, child.text).toBe(201);
    expect(child.body.allowedIps).toEqual(["127.0.0.1/32"]); // inherited
    const wider = await request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${key}`)
      .send({ label: "wider", allowedIps: ["0.0.0.0/0"] });
    expect(wider.status).toBe(403);
  });

  it("an app key and an OAuth key obey their allowlists too; an OAuth client's limits apply to its keys, now and later", async () => {
    const org = await createOrg(server, admin, "Allow org");
    const app = await createApp(server, admin, org, "Robot");
    const appKey = await server.services.keys.mint(
      { userId, label: "robot", source: "portal", organizationId: org, appId: app, allowedIps: ["198.51.100.0/24"] },
      BY_OPERATOR,
    );
    expect((await mcp(server, appKey.raw)).status).toBe(401);
    await server.services.keys.setLimits({ kind: "app", appId: app, id: appKey.key.id }, { allowedIps: ["127.0.0.0/8"] }, BY_OPERATOR);
    expect((await mcp(server, appKey.raw)).status).toBe(200);

    const reg = await register(server, { client_name: "Limited client" });
    const clientId = reg.body.client_id as string;
    const oauthKey = async () => {
      const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
      const token = await exchange(server, { clientId, code, verifier });
      expect(token.status, token.text).toBe(200);
      return token.body.access_token as string;
    };
    const first = await oauthKey();
    expect((await mcp(server, first)).status).toBe(200);
    const changed = await server.services.keys.setClientLimits(
      userId,
      clientId,
      { allowedIps: ["198.51.100.0/24"], rateLimit: null },
      BY_OPERATOR,
    );
    expect(changed).toBe(1);
    expect((await mcp(server, first)).status).toBe(401); // the key it already had
    const second = await oauthKey();
    expect((await mcp(server, second)).status).toBe(401); // and the next one its grant mints
    await server.services.keys.setClientLimits(userId, clientId, { allowedIps: null, rateLimit: null }, BY_OPERATOR);
    expect((await mcp(server, first)).status).toBe(200);
    expect((await mcp(server, second)).status).toBe(200);
  });

  it("an organisation's admin sees each member key's and app key's limits on the organisation and app pages", async () => {
    const org = await createOrg(server, admin, "Limits org");
    const app = await createApp(server, admin, org, "Limited robot");
    const member = await server.services.keys.mint(
      { userId, label: "member limited", source: "portal", organizationId: org, allowedIps: ["198.51.100.0/24"], rateLimit: 7 },
      BY_OPERATOR,
    );
    await server.services.keys.mint(
      {
        userId,
        label: "app limited",
        source: "portal",
        organizationId: org,
        appId: app,
        allowedIps: ["2001:db8::/32", "203.0.113.0/24"],
      },
      BY_OPERATOR,
    );
    const page = await person.agent.get(`/app/orgs/${org}`).expect(200);
    const row = page.text.slice(page.text.indexOf(`data-key-id="${member.key.id}"`));
    expect(row.slice(0, row.indexOf("</tr>"))).toMatch(/From 198\.51\.100\.0\/24<\/span><br><span>7\/min/);
    const appPage = await person.agent.get(`/app/orgs/${org}/apps/${app}`).expect(200);
    expect(appPage.text).toContain('<span title="2001:db8::/32, 203.0.113.0/24">From 2 IP ranges</span>');
  });

  it("userinfo (/me) uses the key too: an OAuth key limited elsewhere gets 401 there, as at /mcp", async () => {
    const reg = await register(server, { client_name: "Userinfo client" });
    const clientId = reg.body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "openid email mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status, token.text).toBe(200);
    const me = () =>
      request(server.url)
        .get("/me")
        .set("Authorization", `Bearer ${token.body.access_token as string}`);
    expect((await me()).status).toBe(200);
    await server.services.keys.setClientLimits(userId, clientId, { allowedIps: ["198.51.100.0/24"], rateLimit: null }, BY_OPERATOR);
    const refused = await me();
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: "invalid_token" });
    await server.services.keys.setClientLimits(userId, clientId, { allowedIps: ["127.0.0.0/8"], rateLimit: null }, BY_OPERATOR);
    expect((await me()).status).toBe(200);
  });

  it("the pages: the key detail page shows and changes a key's limits (bad CIDR: 400 next to the form, input kept); Connected apps sets a client's", async () => {
    const minted = await api().send({ label: "<b>paged</b>" });
    const id = minted.body.id as string;
    const detail = await person.agent.get(`/app/account/api-keys/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.text).toContain("&lt;b&gt;paged&lt;/b&gt;");
    expect(detail.text).toContain("Allowed from: <strong>any address</strong>");
    const list = await person.agent.get("/app/account/api-keys");
    expect(list.text).toContain(`href="/app/account/api-keys/${id}"`);
    const csrf = csrfFrom(detail.text);
    const bad = await person.agent
      .post(`/app/account/api-keys/${id}/limits`)
      .type("form")
      .send({ _csrf: csrf, allowedIps: "10.0.0.1/8", rateLimit: "" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("IP allowlist: &#34;10.0.0.1/8&#34; has bits set after its /8 prefix: did you mean 10.0.0.0/8?");
    expect(bad.text).toContain(">10.0.0.1/8</textarea>");
    expect((await mcp(server, minted.body.key)).status).toBe(200); // nothing changed
    const saved = await person.agent
      .post(`/app/account/api-keys/${id}/limits`)
      .type("form")
      .send({ _csrf: csrf, allowedIps: "192.0.2.0/24\n2001:db8::/32", rateLimit: "60" });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe(`/app/account/api-keys/${id}?saved=limits`);
    expect((await mcp(server, minted.body.key)).status).toBe(401);
    const after = await person.agent.get(saved.headers.location!);
    expect(after.text).toContain("Allowed from: <strong>192.0.2.0/24, 2001:db8::/32</strong>");
    expect(after.text).toContain("Rate limit: <strong>60 requests per minute</strong>");

    // Another user's key id: exactly the 404 of a missing id, on the page and the form.
    const other = await signUp(server);
    const foreign = await other.agent.get(`/app/account/api-keys/${id}`);
    const missing = await other.agent.get("/app/account/api-keys/key_doesnotexist0000000");
    expect(foreign.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
    const foreignPost = await other.agent
      .post(`/app/account/api-keys/${id}/limits`)
      .type("form")
      .send({ _csrf: other.csrf, allowedIps: "", rateLimit: "" });
    expect(foreignPost.status).toBe(404);
    expect((await mcp(server, minted.body.key)).status).toBe(401); // still limited

    // Connected apps: the client's limits page.
    const reg = await register(server, { client_name: "Paged client" });
    const clientId = reg.body.client_id as string;
    const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    const raw = token.body.access_token as string;
    const apps = await person.agent.get("/app/account/connected-apps");
    expect(apps.text).toContain(`href="/app/account/connected-apps/${clientId}/limits"`);
    const form = await person.agent.get(`/app/account/connected-apps/${clientId}/limits`);
    expect(form.status).toBe(200);
    const post = (agent: typeof person.agent, body: object) =>
      agent.post(`/app/account/connected-apps/${clientId}/limits`).type("form").send(body);
    const refused = await post(person.agent, { _csrf: csrfFrom(form.text), allowedIps: "2001:db8::/129", rateLimit: "" });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("must be a number from 0 to 128");
    expect((await post(person.agent, { _csrf: csrfFrom(form.text), allowedIps: "198.51.100.7", rateLimit: "" })).status).toBe(303);
    expect((await mcp(server, raw)).status).toBe(401);
    expect((await post(other.agent, { _csrf: other.csrf, allowedIps: "", rateLimit: "" })).status).toBe(404); // not their app
    expect((await mcp(server, raw)).status).toBe(401);
  });

  it(
    "the CLI: create --allow-ip (repeatable) --rate-limit, update --allow-ip / --clear-allow-ip, on the server and remotely; bad input exits 2 with words",
    { timeout: 120_000 },
    async () => {
      const env = { DATABASE_URL: server.database.url };
      const created = await keyward(
        [
          "api-keys",
          "create",
          "cli key",
          "--user",
          person.email,
          "--allow-ip",
          "198.51.100.0/24",
          "--allow-ip",
          "2001:DB8::/32",
          "--rate-limit",
          "30",
          "--json",
        ],
        { env },
      );
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout) as { id: string; key: string; allowedIps: string[]; rateLimit: number };
      expect(key.allowedIps).toEqual(["198.51.100.0/24", "2001:db8::/32"]);
      expect(key.rateLimit).toBe(30);
      expect((await mcp(server, key.key)).status).toBe(401);
      const opened = await keyward(["api-keys", "update", key.id, "--user", person.email, "--allow-ip", "127.0.0.1"], { env });
      expect(opened.code, opened.stderr).toBe(0);
      expect(opened.stdout.trim()).toBe(
        `Updated API key ${key.id} "cli key": allowed from: 127.0.0.1/32; rate limit: 30 requests per minute.`,
      );
      expect((await mcp(server, key.key)).status).toBe(200);

      expectError(
        await keywardInProcess(["api-keys", "update", key.id, "--user", person.email, "--allow-ip", "10.1.2.3/8"]),
        2,
        /did you mean 10\.0\.0\.0\/8\?/,
      );
      expectError(
        await keywardInProcess(["api-keys", "create", "x", "--user", person.email, "--rate-limit", "lots"]),
        2,
        /whole number of requests per minute/,
      );
      expectError(await keywardInProcess(["api-keys", "update", key.id, "--user", person.email]), 2, /say what to change/);

      const remote = { env: { KEYWARD_TOKEN: admin, KEYWARD_SERVER: server.url, XDG_CONFIG_HOME: server.dir } };
      const cleared = await keyward(["api-keys", "update", key.id, "--clear-allow-ip", "--clear-rate-limit", "--json"], remote);
      expect(cleared.code, cleared.stderr).toBe(0);
      expect(JSON.parse(cleared.stdout)).toMatchObject({ id: key.id, allowedIps: null, rateLimit: null });
      const remoteBad = await keyward(["api-keys", "create", "r", "--allow-ip", "203.0.113.0/24", "--rate-limit", "5", "--json"], remote);
      expect(remoteBad.code, remoteBad.stderr).toBe(0);
      expect(JSON.parse(remoteBad.stdout)).toMatchObject({ allowedIps: ["203.0.113.0/24"], rateLimit: 5 });
    },
  );
});

describe("TRUSTED_PROXIES=1 (one proxy in front, which appends the address it saw)", () => {
  let server: TestServer;
  let raw: string;

  beforeAll(async () => {
    server = await startTestServer({ TRUSTED_PROXIES: "1" });
    const user = await server.services.users.create(`proxy${Date.now()}@example.com`, "correct horse battery");
    raw = (
      await server.services.keys.mint(
        { userId: user.id, label: "office", source: "portal", allowedIps: ["203.0.113.0/24", "2001:db8::/32"] },
        BY_OPERATOR,
      )
    ).raw;
  }, 60_000);
  afterAll(async () => server?.close());

  it("the address the proxy appended decides; what the client wrote left of it does not", async () => {
    expect((await mcp(server, raw, "203.0.113.9")).status).toBe(200);
    expect((await mcp(server, raw, "2001:db8::5")).status).toBe(200);
    expect((await mcp(server, raw, "::ffff:203.0.113.9")).status).toBe(200); // IPv4-mapped IPv6
    expect((await mcp(server, raw, "203.0.113.9, 198.51.100.1")).status).toBe(401); // spoofed left entry
    expect((await mcp(server, raw, "198.51.100.1")).status).toBe(401);
    expect((await mcp(server, raw, "garbage")).status).toBe(401); // not an address: the proxy (127.0.0.1) is the client
  });
});
