// Issue 24 item 5: the Resources page. Every signed-in user sees every resource's name, URL and host
// snippets (and the built-in /mcp); owners and admins of a shared organisation also see the upstream,
// its health and who in THEIR organisations holds active keys for it — never anyone of another
// organisation, and a plain member sees none of that. Every value is escaped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, signUp, startTestServer, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";

const BY_CLI = { actor: { type: "cli" as const } };
type Person = Awaited<ReturnType<typeof signUp>>;

let server: TestServer;
let alice: Person; // admin of Acme
let bob: Person; // member of Acme
let carol: Person; // owner of Other
let dave: Person; // no shared organisation
let viewer: Person; // viewer in Acme
let notes: string;
let tickets: string;

const idOf = async (p: Person) => (await server.services.users.findByEmail(p.email))!.id;

beforeAll(async () => {
  server = await startTestServer();
  const { resources, orgs, keys, db } = server.services;
  const n = await resources.add({ slug: "notes", name: "Notes <i>team</i>", upstream: "http://10.1.2.3:4630/mcp" }, BY_CLI);
  const t = await resources.add({ slug: "tickets", name: "Tickets", upstream: "http://10.1.2.4:4631/mcp" }, BY_CLI);
  notes = n.url;
  tickets = t.url;
  [alice, bob, carol, dave, viewer] = await Promise.all([signUp(server), signUp(server), signUp(server), signUp(server), signUp(server)]);

  // Acme: alice admin (under an owner nobody else is), bob member, viewer viewer. Other: carol owner.
  const acmeOwner = await signUp(server);
  const acme = await orgs.create(await idOf(acmeOwner), "Acme <Widgets>");
  await orgs.addMember(acme.id, "owner", alice.email, "admin");
  await orgs.addMember(acme.id, "owner", bob.email, "member");
  await orgs.addMember(acme.id, "owner", viewer.email, "viewer");
  const other = await orgs.create(await idOf(carol), "Other Org");

  const bobId = await idOf(bob);
  await keys.mint({ userId: bobId, label: "bob notes", source: "portal", organizationId: acme.id, resources: [notes] }, BY_OPERATOR);
  await keys.mint({ userId: bobId, label: "bob all", source: "portal", organizationId: acme.id }, BY_OPERATOR);
  const gone = await keys.mint(
    { userId: bobId, label: "bob tickets", source: "portal", organizationId: acme.id, resources: [tickets] },
    BY_OPERATOR,
  );
  await keys.revoke({ kind: "own", userId: bobId, id: gone.key.id }, BY_OPERATOR);
  // bob's key in his personal organisation: not Acme's business
  await keys.mint({ userId: bobId, label: "bob personal", source: "portal", resources: [tickets] }, BY_OPERATOR);
  await keys.mint(
    { userId: await idOf(carol), label: "carol notes", source: "portal", organizationId: other.id, resources: [notes] },
    BY_OPERATOR,
  );

  await db.resourceHealth.create({
    data: {
      resourceId: n.id,
      lastOkAt: new Date("2026-12-01T10:00:00Z"),
      lastErrorAt: new Date("2026-12-02T11:30:00Z"),
      lastError: "timed out after 30 s <script>",
      latencyMs: 42,
    },
  });
});
afterAll(async () => server?.close());

/** The card of one resource on the page. */
function card(html: string, slug: string): string {
  const m = new RegExp(`<section class="card resource" id="resource-${slug}"[\\s\\S]*?</section>`).exec(html);
  if (!m) throw new Error(`no card for ${slug}`);
  return m[0];
}

describe("the Resources page", () => {
  it("needs a log-in, at every spelling of its path", async () => {
    for (const path of ["/resources", "/resources/", "/Resources", "/RESOURCES"]) {
      const res = await request(server.url).get(path).redirects(0);
      expect(res.status, path).toBe(302);
      expect(res.headers.location).toMatch(/^\/login\?return_to=/);
      expect(res.text).not.toContain("notes");
    }
  });

  it("is in the navigation", async () => {
    const page = await dave.agent.get("/app/account/api-keys").expect(200);
    expect(page.text).toContain('<a href="/resources">Resources</a>');
  });

  it("a user without a shared organisation: names, URLs and snippets; no upstream, health or key holders", async () => {
    const page = await dave.agent.get("/resources").expect(200);
    expect(page.headers["cache-control"]).toBe("no-store");
    const builtIn = card(page.text, "mcp");
    expect(builtIn).toContain("Keyward MCP server");
    expect(builtIn).toContain(`<code>${server.url}/mcp</code>`);
    expect(builtIn).toContain(`claude mcp add --transport http keyward ${server.url}/mcp`);

    const n = card(page.text, "notes");
    expect(n).toContain("Notes &lt;i&gt;team&lt;/i&gt;");
    expect(n).toContain(`<code>${notes}</code>`);
    expect(n).toContain(`<code>${server.url}/.well-known/oauth-protected-resource/mcp/notes</code>`);
    expect(n).toContain(`claude mcp add --transport http keyward-notes ${notes}`);
    expect(n).toContain("&#34;keyward-notes&#34;");
    expect(n).toContain("mcp-remote");
    for (const secret of ["10.1.2.3", "10.1.2.4", "timed out", "42 ms", bob.email, carol.email, "Upstream", "Health"])
      expect(page.text).not.toContain(secret);
    expect(page.text).not.toContain("<i>team</i>");
  });

  it("a plain member or a viewer of a shared organisation sees the same as anyone", async () => {
    for (const who of [bob, viewer]) {
      const page = await who.agent.get("/resources").expect(200);
      for (const secret of ["10.1.2.3", "timed out", carol.email, "Upstream"]) expect(page.text).not.toContain(secret);
    }
  });

  it("an organisation admin: upstream, health in words, and who in their organisation holds keys for it", async () => {
    const page = await alice.agent.get("/resources").expect(200);
    const n = card(page.text, "notes");
    expect(n).toContain('<code class="upstream">http://10.1.2.3:4630/mcp</code>');
    expect(n).toContain("Failing");
    expect(n).toContain("42 ms");
    expect(n).toContain("timed out after 30 s &lt;script&gt;");
    expect(n).toContain("2026-12-02 11:30 UTC");
    expect(n).toContain(bob.email);
    expect(n).toMatch(/Acme &lt;Widgets&gt;: 1 bound to it, 1 for all resources/);

    const t = card(page.text, "tickets");
    expect(t).toContain("http://10.1.2.4:4631/mcp");
    expect(t).toContain("No request has reached it through the gateway yet.");
    // the revoked key bound to tickets does not count, nor bob's key in his personal organisation
    expect(t).toMatch(/Acme &lt;Widgets&gt;: 1 for all resources\)/);
    expect(t).not.toMatch(/bound to it/);

    // never anyone of an organisation alice does not administer
    expect(page.text).not.toContain(carol.email);
    expect(page.text).not.toContain("Other Org");
    expect(page.text).not.toContain("<script>");
  });

  it("another organisation's owner sees only their own organisation's key holders", async () => {
    const page = await carol.agent.get("/resources").expect(200);
    const n = card(page.text, "notes");
    expect(n).toContain(carol.email);
    expect(n).toMatch(/Other Org: 1 bound to it\)/);
    expect(page.text).not.toContain(bob.email);
    expect(page.text).not.toContain("Acme");
  });

  it("a resource added or removed shows at once", async () => {
    await server.services.resources.add({ slug: "late", name: "Late", upstream: "http://10.9.9.9:1/mcp" }, BY_CLI);
    expect((await dave.agent.get("/resources").expect(200)).text).toContain('id="resource-late"');
    await server.services.resources.remove("late", BY_CLI);
    expect((await dave.agent.get("/resources").expect(200)).text).not.toContain('id="resource-late"');
  });

  it("a logged-out browser with a stale cookie is sent to log in", async () => {
    const agent = browser(server);
    const res = await agent.get("/resources").set("Cookie", "kw_session=stale").redirects(0);
    expect(res.status).toBe(302);
  });
});
