// The account page /app/account/api-keys over HTTP: mint with a one-shot reveal, the table,
// revoke through the confirmation page, CSRF, escaping and the .mcp.json snippet.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { rowFor, unescapeHtml } from "./support/test-db.js";
import { mcpWhoami } from "./support/mcp-status.js";

const KEYS_PAGE = "/app/account/api-keys";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const idOf = (html: string, label: string) => {
  const m = new RegExp(`data-key-id="(key_[0-9A-Za-z]+)">\\s*<td class="label">${label}</td>`).exec(html);
  if (!m) throw new Error(`no row labelled ${label}`);
  return m[1]!;
};
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

describe("minting on the page", () => {
  it("reveals the raw key exactly once: on the first view of the reveal URL the POST redirects to, never in a later GET", async () => {
    const { agent, csrf } = await signUp(server);
    const empty = await agent.get(KEYS_PAGE).expect(200);
    expect(empty.text).toContain("No keys yet.");
    expect(empty.text).not.toContain('id="reveal"');

    const res = await agent.post(KEYS_PAGE).type("form").send({ _csrf: csrf, label: "MacBook script" }).redirects(1).expect(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    const raw = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text)![1]!;
    expect(raw).toMatch(/^kw_user_[0-9A-Za-z]{49}$/);
    expect(count(res.text, raw)).toBe(1);
    expect(res.text).toContain("This is the only time <strong>MacBook script</strong> is shown in full.");
    expect(res.text).toContain('<a class="button" href="/app/account/api-keys">I have copied this key</a>');
    const secret = raw.slice(8, 8 + 43);

    const later = [
      await agent.get(KEYS_PAGE).expect(200),
      await agent.get(`${KEYS_PAGE}/${idOf(res.text, "MacBook script")}/revoke`).expect(200),
      await agent.get("/").expect(200),
    ];
    // a second mint reveals only the new key
    const second = await mintOnPage(agent, csrf, "second");
    later.push({ text: second.html } as (typeof later)[number]);
    later.push(await agent.get(KEYS_PAGE).expect(200));
    for (const page of later) {
      expect(page.text).not.toContain(raw);
      expect(page.text).not.toContain(secret);
    }
    expect(later[0]!.text).not.toContain('id="reveal"');
    expect(later[0]!.text).toContain(`<code>…${raw.slice(-4)}</code>`);
    // ...and the key works
    expect((await mcpWhoami(server, raw)).status).toBe(200);
  });

  it("lists every key with all its columns", async () => {
    const { agent, csrf } = await signUp(server);
    await mintOnPage(agent, csrf, "full access");
    const scoped = await mintOnPage(agent, csrf, "read only", ["mcp:read"]);
    const page = await agent.get(KEYS_PAGE).expect(200);
    const head = /<thead><tr>([\s\S]*?)<\/tr><\/thead>/.exec(page.text)![1]!;
    expect([...head.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1])).toEqual([
      "Label",
      "Key",
      "Status",
      "Source",
      "Scopes",
      "Resources",
      "Created",
      "Last used",
      "Action",
    ]);

    const id = idOf(page.text, "read only");
    const cells = [...rowFor(page.text, id).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/\s+/g, " ").trim());
    expect(cells).toHaveLength(9);
    expect(cells[0]).toBe("read only");
    expect(cells[1]).toBe(`<code>…${scoped.raw.slice(-4)}</code>`);
    expect(cells[2]).toBe('<span class="status active">Active</span>');
    expect(cells[3]).toBe('<span class="badge source-portal">Portal</span>');
    expect(cells[4]).toBe("mcp:read");
    expect(cells[5]).toBe("All resources");
    expect(cells[6]).toMatch(/^<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>$/);
    const created = Date.parse(/datetime="([^"]+)"/.exec(cells[6]!)![1]!);
    expect(Math.abs(Date.now() - created)).toBeLessThan(60_000);
    expect(cells[7]).toBe("Never");
    expect(cells[8]).toContain(`href="${KEYS_PAGE}/${id}/revoke"`);
    expect(cells[8]).toContain(`data-last4="${scoped.raw.slice(-4)}"`);
    expect(cells[8]).toContain(">Revoke</a>");

    const full = [...rowFor(page.text, idOf(page.text, "full access")).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.trim());
    expect(full[4]).toBe("Full access");
    // newest first
    expect(page.text.indexOf(`<td class="label">read only</td>`)).toBeLessThan(page.text.indexOf(`<td class="label">full access</td>`));
    expect(page.text.indexOf(`<td class="label">read only</td>`)).toBeGreaterThan(0);
  });

  it("shows the last use once the key has been used", async () => {
    const { agent, csrf } = await signUp(server);
    const { raw } = await mintOnPage(agent, csrf, "used");
    expect((await mcpWhoami(server, raw, { as: "x-api-key" })).status).toBe(200);
    const page = await agent.get(KEYS_PAGE).expect(200);
    const cells = [...rowFor(page.text, idOf(page.text, "used")).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.trim());
    const used = /<time datetime="([^"]+)">/.exec(cells[6]!);
    expect(used).not.toBeNull();
    expect(Math.abs(Date.now() - Date.parse(used![1]!))).toBeLessThan(60_000);
  });

  it("refuses bad input with a 400 page that keeps the form, and mints nothing", async () => {
    const { agent, csrf } = await signUp(server);
    const unknownScope = await agent
      .post(KEYS_PAGE)
      .type("form")
      .send({ _csrf: csrf, label: "kept label", scopes: ["admin"] })
      .expect(400);
    expect(unknownScope.text).toContain("Unknown scope: admin. Known scopes: mcp:read, mcp:write");
    expect(unknownScope.text).toContain('value="kept label"');
    const long = await agent
      .post(KEYS_PAGE)
      .type("form")
      .send({ _csrf: csrf, label: "x".repeat(101) })
      .expect(400);
    expect(long.text).toContain("Label must be at most 100 characters");
    for (const r of [unknownScope, long]) expect(r.text).not.toContain('id="new-key"');
    expect((await agent.get(KEYS_PAGE)).text).toContain("No keys yet.");
  });

  it("an empty label becomes “Untitled key”", async () => {
    const { agent, csrf } = await signUp(server);
    const { html } = await mintOnPage(agent, csrf, "   ");
    expect(html).toContain('<td class="label">Untitled key</td>');
  });
});

describe("revoking", () => {
  it("confirmation page (shows the last 4) → POST → row dimmed, and /mcp refuses the very next request", async () => {
    const { agent, csrf } = await signUp(server);
    const { raw, html } = await mintOnPage(agent, csrf, "doomed");
    const keep = await mintOnPage(agent, csrf, "kept");
    const id = idOf(html, "doomed");
    expect((await mcpWhoami(server, raw)).status).toBe(200);

    const confirm = await agent.get(`${KEYS_PAGE}/${id}/revoke`).expect(200);
    expect(confirm.text).toContain(`“doomed” ending in <code>${raw.slice(-4)}</code> (Portal)`);
    expect(confirm.text).toContain(`<form method="post" action="${KEYS_PAGE}/${id}/revoke">`);
    expect(confirm.text).toContain("Yes, revoke this key");

    const res = await agent.post(`${KEYS_PAGE}/${id}/revoke`).type("form").send({ _csrf: csrf }).expect(303);
    expect(res.headers.location).toBe(`${KEYS_PAGE}?revoked=${id}`);

    const denied = await mcpWhoami(server, raw);
    expect(denied.status).toBe(401);
    expect(denied.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(denied.body).toEqual({ error: "invalid_token", error_description: "The key has been revoked (just now)" });
    expect((await mcpWhoami(server, keep.raw)).status).toBe(200);

    const page = await agent.get(res.headers.location!).expect(200);
    expect(page.text).toContain(`The key “doomed” ending in ${raw.slice(-4)} was revoked. It no longer works.`);
    const row = rowFor(page.text, id);
    expect(row).toMatch(/^<tr class="revoked"/);
    expect(row).toContain('<span class="status revoked">Revoked</span>');
    expect(row).toMatch(/<span class="muted">Revoked \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/span>/);
    expect(row).not.toContain(">Revoke</a>");
    expect(rowFor(page.text, idOf(page.text, "kept"))).toMatch(/^<tr class="" /);

    // the confirmation page of a revoked key says so; posting again is harmless
    expect((await agent.get(`${KEYS_PAGE}/${id}/revoke`).expect(200)).text).toContain("This key is already revoked.");
    await agent.post(`${KEYS_PAGE}/${id}/revoke`).type("form").send({ _csrf: csrf }).expect(303);
  });

  it("another user's key: 404 on the confirmation page and the POST, and it keeps working", async () => {
    const alice = await signUp(server);
    const bob = await signUp(server);
    const { raw, html } = await mintOnPage(alice.agent, alice.csrf, "alice key");
    const id = idOf(html, "alice key");
    const page = await bob.agent.get(`${KEYS_PAGE}/${id}/revoke`).expect(404);
    expect(page.text).toContain("No API key with that id.");
    expect(page.text).not.toContain(raw.slice(-4));
    await bob.agent.post(`${KEYS_PAGE}/${id}/revoke`).type("form").send({ _csrf: bob.csrf }).expect(404);
    expect((await mcpWhoami(server, raw)).status).toBe(200);
    expect((await bob.agent.get(KEYS_PAGE)).text).not.toContain("alice key");
  });

  it("a logged-out browser is sent to log in", async () => {
    const res = await request(server.url).get(`${KEYS_PAGE}/key_x/revoke`).expect(302);
    expect(res.headers.location).toBe(`/login?return_to=${encodeURIComponent(`${KEYS_PAGE}/key_x/revoke`)}`);
  });
});

describe("CSRF on the key forms", () => {
  it("mint and revoke refuse a missing or wrong token with 403 and change nothing", async () => {
    const { agent, csrf } = await signUp(server);
    const other = await signUp(server);
    const { raw, html } = await mintOnPage(agent, csrf, "guarded");
    const id = idOf(html, "guarded");
    const wrongTokens: (string | undefined)[] = [undefined, "", "nope", other.csrf, csrf.slice(1)];
    for (const token of wrongTokens) {
      const body = token === undefined ? { label: "sneaky" } : { _csrf: token, label: "sneaky" };
      const mint = await agent.post(KEYS_PAGE).type("form").send(body);
      expect(mint.status, `mint with ${String(token)}`).toBe(403);
      expect(mint.text).toContain("Missing or invalid CSRF token");
      expect(mint.text).not.toContain('id="new-key"');
      const revoke = await agent
        .post(`${KEYS_PAGE}/${id}/revoke`)
        .type("form")
        .send(token === undefined ? {} : { _csrf: token });
      expect(revoke.status, `revoke with ${String(token)}`).toBe(403);
    }
    const page = await agent.get(KEYS_PAGE);
    expect(page.text).not.toContain("sneaky");
    expect(rowFor(page.text, id)).toMatch(/^<tr class="" /);
    expect((await mcpWhoami(server, raw)).status).toBe(200);
    // the token also works as the X-CSRF-Token header
    await agent.post(`${KEYS_PAGE}/${id}/revoke`).set("X-CSRF-Token", csrf).type("form").send({}).expect(303);
    expect((await mcpWhoami(server, raw)).status).toBe(401);
  });
});

describe("escaping", () => {
  it("labels with HTML are shown as text everywhere", async () => {
    const { agent, csrf } = await signUp(server);
    const label = `<script>alert(1)</script>" onmouseover="x`;
    const escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;x";
    const { html } = await mintOnPage(agent, csrf, label);
    const id = /data-key-id="(key_[^"]+)"/.exec(html)![1]!;
    const list = await agent.get(KEYS_PAGE).expect(200);
    const confirm = await agent.get(`${KEYS_PAGE}/${id}/revoke`).expect(200);
    const revoked = await agent.post(`${KEYS_PAGE}/${id}/revoke`).type("form").send({ _csrf: csrf }).redirects(1).expect(200);
    for (const page of [html, list.text, confirm.text, revoked.text]) {
      expect(page).not.toContain("<script>alert(1)</script>");
      expect(page).not.toContain('" onmouseover="x');
      expect(page).toContain(escaped);
    }
    expect(html).toContain(`<strong>${escaped}</strong>`);
    expect(list.text).toContain(`<td class="label">${escaped}</td>`);
    expect(list.text).toContain(`data-label="${escaped}"`);
    expect(revoked.text).toContain(`The key “${escaped}” ending in`);
    // the only scripts on the page are our own file
    expect([...list.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script src="/static/app.js" defer>']);
  });
});

describe("the .mcp.json snippet", () => {
  it("is a valid http server block with the /mcp URL and a Bearer ${KEYWARD_API_KEY} header", async () => {
    const { agent } = await signUp(server);
    const page = await agent.get(KEYS_PAGE).expect(200);
    const block = unescapeHtml(/<pre id="mcp-json">([\s\S]*?)<\/pre>/.exec(page.text)![1]!);
    expect(block).toContain('"type": "http"');
    expect(block).toContain(`"url": "${server.config.baseUrl}/mcp"`);
    expect(block).toContain('"Authorization": "Bearer ${KEYWARD_API_KEY}"');
    expect(JSON.parse(block)).toEqual({
      mcpServers: {
        keyward: { type: "http", url: `${server.config.baseUrl}/mcp`, headers: { Authorization: "Bearer ${KEYWARD_API_KEY}" } },
      },
    });
    expect(page.text).toContain('<button type="button" class="copy" data-copy-target="mcp-json">Copy</button>');
  });
});
