// Issue 27 item 4, from the outside: the account page's key list searches labels, filters by status
// and source in the query (bookmarkable, and paging pages the filtered list), counts the keys,
// renames a key (its own page, a `key.renamed` event), revokes several at once through a
// confirmation page (Cancel first and focused), and says how fresh "Last used" is. Another user's
// key id answers exactly like a missing one and their key keeps working.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { rowFor, unescapeHtml } from "./support/test-db.js";
import { BY_OPERATOR } from "./support/acting.js";
import { mcpStatus } from "./support/mcp-status.js";

const KEYS_PAGE = "/app/account/api-keys";
type Person = Awaited<ReturnType<typeof signUp>>;

let server: TestServer;
let alice: Person;
let bob: Person;
let aliceId: string;
let bobKey: { id: string; raw: string };

const rowsIn = (html: string) => [
  ...html.matchAll(/<tr class="[^"]*" data-key-id="(key_[0-9A-Za-z]+)">\s*<td class="label">([^<]*)<\/td>/g),
];
const labelsIn = (html: string) => rowsIn(html).map((m) => unescapeHtml(m[2]!));
const idOf = (html: string, label: string) => {
  const found = rowsIn(html).find((m) => unescapeHtml(m[2]!) === label);
  if (!found) throw new Error(`no row labelled ${label}`);
  return found[1]!;
};
const olderLink = (html: string) => /<a href="([^"]+)">Older keys →<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, "&");
const countLine = (html: string) => unescapeHtml(/<p class="key-count">([^<]*)<\/p>/.exec(html)?.[1] ?? "");

/** A key minted straight through the key service (fast, and with any source). */
const mint = async (userId: string, label: string, source: "portal" | "cli" | "unknown" = "portal") =>
  (await server.services.keys.mint({ userId, label, source }, BY_OPERATOR)).key;

/** Two answers that may differ only in the key id they name (and the CSRF token of a page). */
const sameAnswer = (a: request.Response, b: request.Response, idA: string, idB: string) => {
  const clean = (r: request.Response, id: string) => ({
    status: r.status,
    type: r.headers["content-type"],
    text: r.text.replaceAll(id, "ID").replace(/name="_csrf" value="[^"]+"/g, ""),
  });
  expect(clean(a, idA)).toEqual(clean(b, idB));
};

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob] = [await signUp(server), await signUp(server)];
  aliceId = (await server.services.users.findByEmail(alice.email))!.id;
  const bobsRaw = (await mintOnPage(bob.agent, bob.csrf, "bob's own")).raw;
  const bobsId = (await server.services.keys.page((await server.services.users.findByEmail(bob.email))!.id)).items[0]!.id;
  bobKey = { id: bobsId, raw: bobsRaw };
});
afterAll(async () => server?.close());

describe("search, filters and the count", () => {
  it("filters in the query, pages the filtered list, keeps the filter on the pager, and counts", async () => {
    const p = await signUp(server);
    const userId = (await server.services.users.findByEmail(p.email))!.id;
    for (let i = 0; i < 55; i++) await mint(userId, `Deploy ${i}`, i % 5 === 0 ? "cli" : "portal");
    const other = await mint(userId, "laptop <b>script</b>");
    await mint(userId, "100% done_ok");
    const gone = await mint(userId, "old deploy box", "unknown");
    await server.services.keys.revoke({ kind: "own", userId, id: gone.id }, BY_OPERATOR);

    const all = (await p.agent.get(KEYS_PAGE).expect(200)).text;
    expect(countLine(all)).toBe("58 keys, 57 active");
    expect(all).toContain("“Last used” is saved at most once a minute per key");

    // case-insensitive search, 56 matches: 50 on the first page, the rest behind "Older keys" with q kept
    const first = (await p.agent.get(`${KEYS_PAGE}?q=DEPLOY`).expect(200)).text;
    expect(countLine(first)).toBe("58 keys, 57 active · 56 match your search");
    expect(labelsIn(first)).toHaveLength(50);
    expect(labelsIn(first).every((l) => /deploy/i.test(l))).toBe(true);
    expect(first).toContain('value="DEPLOY"');
    const next = olderLink(first)!;
    expect(next).toMatch(/^\/app\/account\/api-keys\?cursor=[^&]+&q=DEPLOY$/);
    const second = (await p.agent.get(next).expect(200)).text;
    expect(labelsIn(second)).toHaveLength(6);
    expect(labelsIn(first)[0]).toBe("old deploy box"); // newest first
    expect(labelsIn(second).at(-1)).toBe("Deploy 0");
    expect(olderLink(second)).toBeUndefined();
    expect(second).toMatch(/<a href="\/app\/account\/api-keys\?q=DEPLOY">← Newest keys<\/a>/);

    // status and source, together with the search
    const revoked = (await p.agent.get(`${KEYS_PAGE}?q=deploy&status=revoked`).expect(200)).text;
    expect(labelsIn(revoked)).toEqual(["old deploy box"]);
    expect(revoked).toMatch(/<option value="revoked" selected>/);
    const cli = (await p.agent.get(`${KEYS_PAGE}?source=cli&status=active`).expect(200)).text;
    expect(labelsIn(cli)).toHaveLength(11);
    expect(countLine(cli)).toContain("11 match your search");
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?source=unknown`).expect(200)).text)).toEqual(["old deploy box"]);
    const active = (await p.agent.get(`${KEYS_PAGE}?status=active`).expect(200)).text;
    expect(labelsIn(active)).not.toContain("old deploy box");

    // LIKE wildcards are text; HTML in labels and in the search is escaped
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?q=${encodeURIComponent("%")}`).expect(200)).text)).toEqual(["100% done_ok"]);
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?q=_`).expect(200)).text)).toEqual(["100% done_ok"]);
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?q=${encodeURIComponent("\\%")}`).expect(200)).text)).toEqual([]);
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?q=${encodeURIComponent("0% DONE")}`).expect(200)).text)).toEqual(["100% done_ok"]);
    const html = (await p.agent.get(`${KEYS_PAGE}?q=${encodeURIComponent("<b>script")}`).expect(200)).text;
    expect(labelsIn(html)).toEqual([other.label]);
    expect(html).toContain("laptop &lt;b&gt;script&lt;/b&gt;");
    expect(html).toContain('value="&lt;b&gt;script"');
    const xss = (await p.agent.get(`${KEYS_PAGE}?q=${encodeURIComponent('"><script>alert(1)</script>')}`).expect(200)).text;
    expect(xss).not.toContain("<script>alert(1)");
    expect(xss).toContain("No keys match this search.");

    // unknown values are no filter (an old bookmark); repeated parameters take the first; a long search is cut
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?status=expiring&source=nope`).expect(200)).text)).toHaveLength(50);
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?status=revoked&status=active`).expect(200)).text)).toEqual(["old deploy box"]);
    await p.agent.get(`${KEYS_PAGE}?q=${"x".repeat(5000)}`).expect(200);
    // a cursor we did not make starts again from the newest (of the filtered list)
    expect(labelsIn((await p.agent.get(`${KEYS_PAGE}?q=deploy&status=revoked&cursor=garbage`).expect(200)).text)).toEqual([
      "old deploy box",
    ]);
  });

  it("an ill-formed search is refused as a 400, not a 500", async () => {
    const res = await alice.agent.get(`${KEYS_PAGE}?q=%ED%A0%80`);
    expect(res.status).toBe(400);
    expect(res.text).not.toMatch(/at .*\.ts:\d+/);
  });

  it("another user's keys never show, whatever the filter", async () => {
    const page = (await alice.agent.get(`${KEYS_PAGE}?q=bob`).expect(200)).text;
    expect(page).not.toContain(bobKey.id);
    expect(page).toContain("No keys match this search.");
  });
});

describe("rename", () => {
  it("a page with one field; saving renames, tells so, and writes key.renamed with the old label", async () => {
    const key = await mintOnPage(alice.agent, alice.csrf, "before rename");
    const list = (await alice.agent.get(KEYS_PAGE).expect(200)).text;
    const id = idOf(list, "before rename");
    expect(rowFor(list, id)).toContain(`href="${KEYS_PAGE}/${id}/rename">Rename</a>`);

    const form = (await alice.agent.get(`${KEYS_PAGE}/${id}/rename`).expect(200)).text;
    expect(form).toContain(`<form method="post" action="${KEYS_PAGE}/${id}/rename">`);
    expect(form).toContain('name="label" maxlength="100" required value="before rename"');
    expect(form).toMatch(/<a class="button secondary" href="\/app\/account\/api-keys">Cancel<\/a>/);

    const res = await alice.agent
      .post(`${KEYS_PAGE}/${id}/rename`)
      .type("form")
      .send({ _csrf: csrfFrom(form), label: "  CI <deploy>  " })
      .redirects(0)
      .expect(303);
    expect(res.headers.location).toBe(`${KEYS_PAGE}?renamed=${id}`);
    const after = (await alice.agent.get(res.headers.location!).expect(200)).text;
    expect(after).toContain(`The key ending in ${key.raw.slice(-4)} is now called “CI &lt;deploy&gt;”.`);
    expect(rowFor(after, id)).toContain('<td class="label">CI &lt;deploy&gt;</td>');
    expect(await mcpStatus(server, key.raw)).toBe(200);

    const activity = unescapeHtml((await alice.agent.get("/app/account/audit?kind=key.renamed").expect(200)).text);
    expect(activity).toContain("API key renamed");
    expect(activity).toContain(`“CI <deploy>” ending in ${key.raw.slice(-4)}, was “before rename”, on the API keys page`);
  });

  it("refuses an empty, a 10,000-character or a control-character label with the form again (400), input kept", async () => {
    await mintOnPage(alice.agent, alice.csrf, "keep my name");
    const id = idOf((await alice.agent.get(KEYS_PAGE).expect(200)).text, "keep my name");
    const cases: [string, string][] = [
      ["   ", "Label must not be empty"],
      ["x".repeat(10_000), "Label must be at most 100 characters"],
      ["bell\u0007", "Label must not contain control characters"],
      ["zero\u200bwidth", "Label must not contain control characters"],
    ];
    for (const [label, message] of cases) {
      const res = await alice.agent.post(`${KEYS_PAGE}/${id}/rename`).type("form").send({ _csrf: alice.csrf, label }).redirects(0);
      expect(res.status, label.slice(0, 20)).toBe(400);
      expect(res.text).toContain(`<p class="alert error" role="alert" id="rename-error">${message}`);
      expect(res.text).toContain('aria-invalid="true"');
      expect(res.text).toContain(`value="${label.slice(0, 100).replace(/\u0007/, "\u0007")}"`);
    }
    // ill-formed Unicode (a UTF-8-encoded lone surrogate) never reaches the database
    const bad = await alice.agent.post(`${KEYS_PAGE}/${id}/rename`).type("form").send(`_csrf=${alice.csrf}&label=%ED%A0%80`).redirects(0);
    expect(bad.status).toBe(400);
    expect(labelsIn((await alice.agent.get(KEYS_PAGE).expect(200)).text)).toContain("keep my name");
  });

  it("needs the CSRF token: without it the form comes back with the stale-form message and nothing changes", async () => {
    await mintOnPage(alice.agent, alice.csrf, "csrf target");
    const id = idOf((await alice.agent.get(KEYS_PAGE).expect(200)).text, "csrf target");
    for (const body of [{ label: "pwned" }, { _csrf: "wrong", label: "pwned" }]) {
      const res = await alice.agent.post(`${KEYS_PAGE}/${id}/rename`).type("form").send(body).redirects(0);
      expect(res.status).toBe(403);
      expect(res.text).toContain("Nothing was changed: this form was out of date");
    }
    // a cross-site form from another origin (no session cookie) changes nothing either
    await request(server.url).post(`${KEYS_PAGE}/${id}/rename`).type("form").send({ label: "pwned" }).redirects(0);
    expect(labelsIn((await alice.agent.get(KEYS_PAGE).expect(200)).text)).toContain("csrf target");
  });

  it("another user's key id: the same 404 as a missing id, on the page and the POST; their key is unchanged and works", async () => {
    const missing = `key_${"A".repeat(20)}`;
    expect(missing).toHaveLength(bobKey.id.length);
    sameAnswer(
      await alice.agent.get(`${KEYS_PAGE}/${bobKey.id}/rename`),
      await alice.agent.get(`${KEYS_PAGE}/${missing}/rename`),
      bobKey.id,
      missing,
    );
    const post = (id: string) => alice.agent.post(`${KEYS_PAGE}/${id}/rename`).type("form").send({ _csrf: alice.csrf, label: "mine now" });
    const [other, none] = [await post(bobKey.id), await post(missing)];
    expect(other.status).toBe(404);
    sameAnswer(other, none, bobKey.id, missing);
    // route variants reach the same route or none: never another user's key
    for (const path of [
      `${KEYS_PAGE}/${bobKey.id}/rename/`,
      `${KEYS_PAGE}/${bobKey.id}/RENAME`,
      `${KEYS_PAGE}/${encodeURIComponent(bobKey.id)}/rename`,
    ]) {
      const res = await alice.agent.post(path).type("form").send({ _csrf: alice.csrf, label: "mine now" });
      expect(res.status, path).toBe(404);
    }
    expect((await server.services.keys.get((await server.services.users.findByEmail(bob.email))!.id, bobKey.id))!.label).toBe("bob's own");
    expect(await mcpStatus(server, bobKey.raw)).toBe(200);
  });
});

describe("bulk revoke", () => {
  it("the list's checkboxes post to a confirmation page (Cancel first and focused); confirm=yes revokes them all", async () => {
    const one = await mintOnPage(alice.agent, alice.csrf, "bulk one");
    const two = await mintOnPage(alice.agent, alice.csrf, "bulk <two>");
    const stays = await mintOnPage(alice.agent, alice.csrf, "bulk stays");
    const list = (await alice.agent.get(KEYS_PAGE).expect(200)).text;
    const [id1, id2] = [idOf(list, "bulk one"), idOf(list, "bulk <two>")];
    expect(list).toContain(`<form method="post" action="${KEYS_PAGE}/revoke-selected" id="bulk-revoke" class="bulk">`);
    expect(list).toContain('<button type="submit" class="danger small">Revoke selected</button>');
    expect(rowFor(list, id1)).toContain(
      `<input type="checkbox" name="ids" value="${id1}" form="bulk-revoke" aria-label="Select “bulk one” ending in`,
    );

    const ask = await alice.agent
      .post(`${KEYS_PAGE}/revoke-selected`)
      .type("form")
      .send(`_csrf=${alice.csrf}&ids=${id1}&ids=${id2}`)
      .redirects(0);
    expect(ask.status).toBe(200);
    expect(ask.text).toContain("<h1>Revoke these 2 keys?</h1>");
    expect(ask.text).toContain(`“bulk one” ending in ${one.raw.slice(-4)} (Portal)`);
    expect(ask.text).toContain(`“bulk &lt;two&gt;” ending in ${two.raw.slice(-4)} (Portal)`);
    expect(ask.text).toContain("They stop working on the next request. This cannot be undone.");
    expect(ask.text).toMatch(/<a class="button secondary" href="\/app\/account\/api-keys" autofocus>Cancel<\/a>/);
    expect(ask.text.indexOf(">Cancel</a>")).toBeLessThan(ask.text.indexOf('type="submit" class="danger"'));
    expect(ask.text).toContain(`<input type="hidden" name="ids" value="${id1},${id2}">`);
    expect(ask.text).toContain('name="confirm" value="yes"');
    expect(await mcpStatus(server, one.raw)).toBe(200);

    const done = await alice.agent
      .post(`${KEYS_PAGE}/revoke-selected`)
      .type("form")
      .send({ _csrf: csrfFrom(ask.text), ids: `${id1},${id2}`, confirm: "yes" })
      .redirects(0)
      .expect(303);
    expect(done.headers.location).toBe(`${KEYS_PAGE}?revokedCount=2`);
    expect(await mcpStatus(server, one.raw)).toBe(401);
    expect(await mcpStatus(server, two.raw)).toBe(401);
    expect(await mcpStatus(server, stays.raw)).toBe(200);
    const after = (await alice.agent.get(done.headers.location!).expect(200)).text;
    expect(after).toContain("2 keys were revoked. They no longer work.");
    expect(rowFor(after, id1)).toMatch(/^<tr class="revoked"/);
    expect(rowFor(after, id1)).not.toContain('type="checkbox"');
    // one key at a time reads as one
    const single = await alice.agent
      .post(`${KEYS_PAGE}/revoke-selected`)
      .type("form")
      .send({ _csrf: alice.csrf, ids: idOf(after, "bulk stays") })
      .expect(200);
    expect(single.text).toContain("<h1>Revoke this key?</h1>");
    expect(single.text).toContain("Yes, revoke this key");
  });

  it("nothing selected, or only revoked keys: the list again with a message (400)", async () => {
    const none = await alice.agent.post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ _csrf: alice.csrf });
    expect(none.status).toBe(400);
    expect(none.text).toContain('<p class="alert error" role="alert">Select at least one key to revoke.</p>');
    const page = (await alice.agent.get(`${KEYS_PAGE}?status=revoked`).expect(200)).text;
    const revokedId = rowsIn(page)[0]![1]!;
    const already = await alice.agent.post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ _csrf: alice.csrf, ids: revokedId });
    expect(already.status).toBe(400);
    expect(already.text).toContain("The selected keys are already revoked.");
  });

  it("another user's id among them: the same 404 as a missing id, and nothing is revoked (theirs and mine work)", async () => {
    const mine = await mintOnPage(alice.agent, alice.csrf, "bulk mine");
    const myId = idOf((await alice.agent.get(KEYS_PAGE).expect(200)).text, "bulk mine");
    const missing = `key_${"B".repeat(20)}`;
    const send = (ids: string) =>
      alice.agent.post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ _csrf: alice.csrf, ids, confirm: "yes" }).redirects(0);
    const [other, none] = [await send(`${myId},${bobKey.id}`), await send(`${myId},${missing}`)];
    expect(other.status).toBe(404);
    sameAnswer(other, none, bobKey.id, missing);
    expect(await mcpStatus(server, mine.raw)).toBe(200);
    expect(await mcpStatus(server, bobKey.raw)).toBe(200);
  });

  it("needs the CSRF token (403, nothing revoked) and a logged-in user", async () => {
    const mine = await mintOnPage(alice.agent, alice.csrf, "bulk csrf");
    const id = idOf((await alice.agent.get(KEYS_PAGE).expect(200)).text, "bulk csrf");
    const res = await alice.agent.post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ ids: id, confirm: "yes" }).redirects(0);
    expect(res.status).toBe(403);
    const anon = await request(server.url).post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ ids: id, confirm: "yes" }).redirects(0);
    expect([302, 303, 403]).toContain(anon.status);
    expect(await mcpStatus(server, mine.raw)).toBe(200);
  });

  it("at most 500 ids at once", async () => {
    const ids = Array.from({ length: 501 }, (_, i) => `key_${String(i).padStart(20, "0")}`).join(",");
    const res = await alice.agent.post(`${KEYS_PAGE}/revoke-selected`).type("form").send({ _csrf: alice.csrf, ids });
    expect(res.status).toBe(400);
    expect(res.text).toContain("At most 500 keys at once.");
  });
});

describe("the count of a user with no keys", () => {
  it("says 0 keys, 0 active and hides the bulk form", async () => {
    const p = await signUp(server);
    const page = (await p.agent.get(KEYS_PAGE).expect(200)).text;
    expect(countLine(page)).toBe("0 keys, 0 active");
    expect(page).not.toContain('id="bulk-revoke"');
    expect(aliceId).toMatch(/^usr_/);
  });
});
