// Issue 24 item 2: a portal key is bound at mint to the resources its owner picks, or to all of them
// (like GitHub's fine-grained vs classic tokens): on the account page, through the JSON API and with
// `keyward api-keys create --resource` (on this machine's database and against a remote server). The
// key list and the reveal say which; an unknown resource is refused by name.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { keyward } from "./support/cli-run.js";
import { addNotesAndTickets } from "./support/resources.js";
import { mcpPost } from "./support/mcp-status.js";

const KEYS_PAGE = "/app/account/api-keys";

let server: TestServer;
let person: Awaited<ReturnType<typeof signUp>>;
let notes: string;
let tickets: string;
let builtIn: string;
let scratch: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ notes, tickets, builtIn } = await addNotesAndTickets(server, "Tickets <&> co", 4620));
  person = await signUp(server);
  scratch = mkdtempSync(path.join(tmpdir(), "keyward-key-resources-"));
});
afterAll(async () => {
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Where a raw key works, among the built-in and the two resources. */
async function worksAt(raw: string): Promise<string[]> {
  const at: string[] = [];
  for (const resource of [builtIn, notes, tickets]) if ((await server.services.keys.verify(raw, { resource })).ok) at.push(resource);
  return at;
}

/** The row of a key in the page's table. */
function rowOf(html: string, last4: string): string {
  const row = [...html.matchAll(/<tr[^>]*data-key-id="[^"]+"[^>]*>([\s\S]*?)<\/tr>/g)].find((m) => m[1]!.includes(`…${last4}</code>`));
  if (!row) throw new Error(`no row for …${last4}`);
  return row[1]!;
}

const resourcesCell = (row: string) => /<td data-label="Resources">([\s\S]*?)<\/td>/.exec(row)![1]!.trim();

describe("the account page", () => {
  it("offers All resources (the default) and every resource by name, escaped", async () => {
    const page = await person.agent.get(KEYS_PAGE).expect(200);
    expect(page.text).toMatch(/<input type="radio" name="resourceMode" value="all" checked>/);
    expect(page.text).toMatch(/<input type="radio" name="resourceMode" value="some" >/);
    for (const slug of ["mcp", "notes", "tickets"]) expect(page.text).toContain(`name="resources" value="${slug}"`);
    expect(page.text).toContain("Keyward MCP server");
    expect(page.text).toContain("Tickets &lt;&amp;&gt; co");
    expect(page.text).not.toContain("Tickets <&> co");
    expect(page.text).not.toContain("4620"); // upstreams are not for everyone
  });

  it("without a choice: a key for every resource, and the page says so", async () => {
    const { raw, html } = await mintOnPage(person.agent, person.csrf, "everywhere");
    expect(html).toMatch(/Works at: <strong>All resources<\/strong>/);
    expect(await worksAt(raw)).toEqual([builtIn, notes, tickets]);
    const list = await person.agent.get(KEYS_PAGE).expect(200);
    expect(resourcesCell(rowOf(list.text, raw.slice(-4)))).toBe("All resources");
  });

  it("ticked resources: a key bound to exactly those", async () => {
    const res = await person.agent
      .post(KEYS_PAGE)
      .type("form")
      .send({ _csrf: person.csrf, label: "two", resourceMode: "some", resources: ["notes", "tickets"] })
      .redirects(1)
      .expect(200);
    const raw = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text)![1]!;
    expect(res.text).toContain("Works at: <strong>Team notes, Tickets &lt;&amp;&gt; co</strong>");
    expect(await worksAt(raw)).toEqual([notes, tickets]);
    const list = await person.agent.get(KEYS_PAGE).expect(200);
    expect(resourcesCell(rowOf(list.text, raw.slice(-4)))).toBe("Team notes, Tickets &lt;&amp;&gt; co");
    // Keyward's own /mcp refuses it from the outside
    const mcp = await mcpPost(server, raw, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(mcp.status).toBe(401);
  });

  it("the built-in resource alone", async () => {
    const res = await person.agent
      .post(KEYS_PAGE)
      .type("form")
      .send({ _csrf: person.csrf, label: "own", resourceMode: "some", resources: "mcp" })
      .redirects(1)
      .expect(200);
    const raw = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text)![1]!;
    expect(res.text).toContain("Works at: <strong>Keyward MCP server</strong>");
    expect(await worksAt(raw)).toEqual([builtIn]);
  });

  it.each([
    ["Only the ticked with nothing ticked", { resourceMode: "some" }, /Tick at least one resource/],
    ["All resources with boxes ticked", { resourceMode: "all", resources: "notes" }, /You ticked resources but chose/],
    ["an unknown slug", { resourceMode: "some", resources: ["notes", "nope"] }, /Unknown resource &#34;nope&#34;/],
    ["an upper-case slug", { resourceMode: "some", resources: "NOTES" }, /Unknown resource &#34;NOTES&#34;/],
    ["markup as a slug", { resourceMode: "some", resources: "<script>x</script>" }, /Unknown resource &#34;&lt;script&gt;/],
  ])("%s: 400 on the page, no key, the choice kept", async (_name, fields, message) => {
    const before = (await server.services.keys.list((await server.services.users.findByEmail(person.email))!.id)).length;
    const res = await person.agent
      .post(KEYS_PAGE)
      .type("form")
      .send({ _csrf: person.csrf, label: "refused", ...fields })
      .expect(400);
    expect(res.text).toMatch(message);
    expect(res.text).not.toContain("<script>x</script>");
    expect(res.text).toContain('value="refused"');
    const after = (await server.services.keys.list((await server.services.users.findByEmail(person.email))!.id)).length;
    expect(after).toBe(before);
  });

  it("an unknown resourceMode is a 400, not a key", async () => {
    const res = await person.agent.post(KEYS_PAGE).type("form").send({ _csrf: person.csrf, label: "odd", resourceMode: "none" });
    expect(res.status).toBe(400);
  });

  it("the CSRF token is still needed", async () => {
    const page = await person.agent.get(KEYS_PAGE).expect(200);
    expect(csrfFrom(page.text)).toBeTruthy();
    await person.agent.post(KEYS_PAGE).type("form").send({ label: "no csrf", resourceMode: "some", resources: "notes" }).expect(403);
  });
});

describe("the JSON API", () => {
  let manager: string;
  beforeAll(async () => {
    manager = (await mintOnPage(person.agent, person.csrf, "manager")).raw;
  });

  const create = (body: unknown) =>
    request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${manager}`)
      .set("Content-Type", "application/json")
      .send(JSON.stringify(body));

  it("resources by slug, by URL and mcp for the built-in: bound to their URLs", async () => {
    const res = await create({ label: "api", resources: ["notes", tickets, "mcp", `${notes}/`] });
    expect(res.status, res.text).toBe(201);
    expect(res.body.resources).toEqual([notes, tickets, builtIn]);
    expect(await worksAt(res.body.key as string)).toEqual([builtIn, notes, tickets]);
    const only = await create({ label: "api notes", resources: ["notes"] });
    expect(only.body.resources).toEqual([notes]);
    expect(await worksAt(only.body.key as string)).toEqual([notes]);
    const listed = await request(server.url).get(`/api/api-keys/${only.body.id}`).set("Authorization", `Bearer ${manager}`).expect(200);
    expect(listed.body.resources).toEqual([notes]);
  });

  it("no resources, or null: every resource", async () => {
    for (const body of [{ label: "all" }, { label: "all", resources: null }]) {
      const res = await create(body);
      expect(res.status, res.text).toBe(201);
      expect(res.body.resources).toBeNull();
    }
  });

  it.each([
    ["an unknown slug", { resources: ["nope"] }, /Unknown resource "nope"/],
    ["an unknown URL", { resources: [`${server?.url ?? ""}/mcp/nope`] }, /Unknown resource/],
    ["another server's URL", { resources: ["https://elsewhere.example/mcp/notes"] }, /Unknown resource/],
    ["upper case", { resources: ["Notes"] }, /Unknown resource "Notes"/],
    ["an empty list", { resources: [] }, /at least one resource/],
    ["not a list", { resources: "notes" }, /resources/],
  ])("%s: 400 naming it, no key", async (_name, body, message) => {
    const res = await create({ label: "refused", ...body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
    expect(res.body.error_description).toMatch(message);
  });

  it("a key bound to a resource cannot use the API to mint itself a wider key", async () => {
    const bound = (await create({ label: "bound", resources: ["notes"] })).body.key as string;
    const res = await request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${bound}`)
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ label: "wider" }));
    expect(res.status).toBe(401);
  });
});

describe("keyward api-keys create --resource", () => {
  // As on the server's machine: the same DATABASE_URL and ISSUER (resource URLs derive from ISSUER).
  const env = () => ({ DATABASE_URL: server.database.url, ISSUER: server.url, XDG_CONFIG_HOME: scratch });

  it("on this machine's database: repeatable, slugs and mcp", async () => {
    const run = await keyward(["api-keys", "create", "cli", "--user", person.email, "--resource", "notes", "--resource", "mcp"], {
      env: env(),
    });
    expect(run.code, run.stderr).toBe(0);
    const raw = run.stdout.trim();
    expect(run.stderr).toContain("works at: Team notes, Keyward MCP server");
    expect(await worksAt(raw)).toEqual([builtIn, notes]);
    const json = await keyward(["api-keys", "create", "cli json", "--user", person.email, "--resource", tickets, "--json"], { env: env() });
    expect(JSON.parse(json.stdout).resources).toEqual([tickets]);
    const list = await keyward(["api-keys", "list", "--user", person.email], { env: env() });
    expect(list.stdout).toMatch(/RESOURCES/);
    expect(list.stdout).toMatch(/notes mcp/);
  });

  it("without --resource: every resource", async () => {
    const run = await keyward(["api-keys", "create", "cli all", "--user", person.email, "--json"], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).resources).toBeNull();
  });

  it("an unknown resource is a usage error naming it", async () => {
    const run = await keyward(["api-keys", "create", "x", "--user", person.email, "--resource", "nope"], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unknown resource "nope"/);
    expect(run.stdout).toBe("");
  });

  it("against a remote server: the same binding through the JSON API", async () => {
    const token = (await mintOnPage(person.agent, person.csrf, "remote cli")).raw;
    const remoteEnv = { XDG_CONFIG_HOME: path.join(scratch, "remote"), KEYWARD_TOKEN: token, KEYWARD_SERVER: server.url };
    const run = await keyward(["api-keys", "create", "remote", "--resource", "tickets", "--resource", "notes"], { env: remoteEnv });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`works at: ${tickets}, ${notes}`);
    expect(await worksAt(run.stdout.trim())).toEqual([notes, tickets]);
    const refused = await keyward(["api-keys", "create", "remote", "--resource", "nope"], { env: remoteEnv });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Unknown resource "nope"/);
  });
});

describe("the key list filtered by resource (?resource=)", () => {
  let owner: Awaited<ReturnType<typeof signUp>>;
  const last4s: Record<string, string> = {};
  beforeAll(async () => {
    owner = await signUp(server);
    const user = (await server.services.users.findByEmail(owner.email))!;
    const by = { actor: { type: "user" as const, id: user.id }, via: "api" as const };
    const mint = async (label: string, resources: string[] | null) =>
      (last4s[label] = (await server.services.keys.mint({ userId: user.id, label, source: "portal", resources }, by)).key.last4);
    await mint("everywhere", null);
    await mint("notes only", [notes]);
    await mint("tickets only", [tickets]);
    await mint("notes and built-in", [builtIn, notes]);
  });

  it("on the page: the keys that work there (bound to it, or to every resource), bookmarkable, with the choice kept", async () => {
    const page = await owner.agent.get(`${KEYS_PAGE}?resource=notes`).expect(200);
    const labels = [...page.text.matchAll(/<td class="label"[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]!.trim()).sort();
    expect(labels).toEqual(["everywhere", "notes and built-in", "notes only"]);
    expect(page.text).toContain('<option value="notes" selected>Team notes</option>');
    expect(page.text).toContain("3 match your search");
    const builtInOnly = await owner.agent.get(`${KEYS_PAGE}?resource=mcp`).expect(200);
    expect(builtInOnly.text).toContain(`…${last4s["notes and built-in"]}`);
    expect(builtInOnly.text).not.toContain(`…${last4s["tickets only"]}`);
    // an unknown slug (an old bookmark) is no filter, as for the other filters
    const unknown = await owner.agent.get(`${KEYS_PAGE}?resource=gone`).expect(200);
    expect(unknown.text).toContain(`…${last4s["tickets only"]}`);
  });

  it("in the JSON API: by slug or URL; an unknown resource is a 400 naming it", async () => {
    const bySlug = await owner.agent.get("/api/api-keys?resource=tickets").set("x-csrf-token", owner.csrf).expect(200);
    expect((bySlug.body as { data: { label: string }[] }).data.map((k) => k.label).sort()).toEqual(["everywhere", "tickets only"]);
    const byUrl = await owner.agent
      .get(`/api/api-keys?resource=${encodeURIComponent(tickets)}`)
      .set("x-csrf-token", owner.csrf)
      .expect(200);
    expect((byUrl.body as { data: unknown[] }).data).toHaveLength(2);
    const unknown = await owner.agent.get("/api/api-keys?resource=gone").set("x-csrf-token", owner.csrf);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error_description).toContain("gone");
  });
});
