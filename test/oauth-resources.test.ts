// Issue 24 items 2 and 5: an OAuth key is bound to exactly the resource its client asked for. The
// consent page names that resource; a key for <ISSUER>/mcp/<slug> works there and nowhere else; an
// unknown resource is invalid_target; no resource means Keyward's own /mcp.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, authorizeWithPkce, decideOnConsent, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { csrfFrom } from "./support/server.js";
import { addNotesAndTickets } from "./support/resources.js";
import { mcpPost } from "./support/mcp-status.js";

const BY_CLI = { actor: { type: "cli" as const } };

let server: TestServer;
let clientId: string;
let person: Awaited<ReturnType<typeof signUp>>;
let notes: string;
let tickets: string;
let builtIn: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ notes, tickets, builtIn } = await addNotesAndTickets(server, "<b>Tickets</b> & co", 4610));
  clientId = (await register(server, { client_name: "Resource client" })).body.client_id as string;
  person = await signUp(server);
});
afterAll(async () => server?.close());

/** The consent page for this authorization request. */
async function consentPage(resource?: string) {
  const { challenge } = pkcePair();
  const page = await follow(person.agent, server, authorizeUrl({ clientId, challenge, method: "S256", scope: "mcp:read", resource }));
  return page;
}

/** A full flow: authorize (Allow) and exchange; the OAuth key. */
async function keyFor(resource: string | undefined, tokenResource?: string) {
  const { back, code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read", resource });
  expect(code, back.toString()).toBeTruthy();
  return exchange(server, { clientId, code, verifier, resource: tokenResource });
}

describe("consent names the resource", () => {
  it("a gateway resource by its name, with its URL", async () => {
    const page = await consentPage(notes);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`wants to use <strong class="resource-name">Team notes</strong> as you`);
    expect(page.text).toContain(`<code>${notes}</code>`);
  });

  it("Keyward's own /mcp as the built-in one, with or without resource=", async () => {
    for (const resource of [undefined, builtIn]) {
      const page = await consentPage(resource);
      expect(page.text).toContain(`wants to use <strong class="resource-name">Keyward MCP server</strong> as you`);
    }
  });

  it("a resource name is escaped", async () => {
    const page = await consentPage(tickets);
    expect(page.text).toContain("&lt;b&gt;Tickets&lt;/b&gt; &amp; co");
    expect(page.text).not.toContain("<b>Tickets</b>");
  });
});

describe("the key is bound to exactly the resource asked for", () => {
  it("resource=<ISSUER>/mcp/notes: works at notes only", async () => {
    const token = await keyFor(notes);
    expect(token.status, token.text).toBe(200);
    const raw = token.body.access_token as string;
    const { keys } = server.services;
    const at = await keys.verify(raw, { resource: notes });
    expect(at.ok).toBe(true);
    if (at.ok) expect(at.key.resources).toEqual([notes]);
    expect(await keys.verify(raw, { resource: tickets })).toMatchObject({ ok: false, reason: "wrong_resource" });
    expect(await keys.verify(raw, { resource: builtIn })).toMatchObject({ ok: false, reason: "wrong_resource" });
    // Keyward's own /mcp refuses it from the outside too
    const mcp = await mcpPost(server, raw, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(mcp.status).toBe(401);
    expect(mcp.headers["www-authenticate"]).toMatch(/invalid_token/);
    // the user's key list says so
    const list = await person.agent.get("/app/account/api-keys").expect(200);
    expect(list.text).toContain("Team notes");
  });

  it("the token request may name the same resource again", async () => {
    const token = await keyFor(notes, notes);
    expect(token.status, token.text).toBe(200);
    expect((await server.services.keys.verify(token.body.access_token as string, { resource: notes })).ok).toBe(true);
  });

  it("the token request cannot switch to another resource", async () => {
    const token = await keyFor(notes, tickets);
    expect(token.status).toBe(400);
    expect(token.body.access_token).toBeUndefined();
    expect(token.body.error).toMatch(/invalid_target|invalid_grant/);
  });

  it("no resource: bound to Keyward's own /mcp", async () => {
    const token = await keyFor(undefined);
    expect(token.status, token.text).toBe(200);
    const raw = token.body.access_token as string;
    const at = await server.services.keys.verify(raw, { resource: builtIn });
    expect(at.ok).toBe(true);
    if (at.ok) expect(at.key.resources).toEqual([builtIn]);
    expect(await server.services.keys.verify(raw, { resource: notes })).toMatchObject({ ok: false, reason: "wrong_resource" });
  });

  it("a resource removed after the key was issued takes the key with it", async () => {
    const temp = (await server.services.resources.add({ slug: "temp", name: "Temporary", upstream: "http://127.0.0.1:4612/mcp" }, BY_CLI))
      .url;
    const token = await keyFor(temp);
    expect(token.status, token.text).toBe(200);
    const raw = token.body.access_token as string;
    expect((await server.services.keys.verify(raw, { resource: temp })).ok).toBe(true);
    await server.services.resources.remove("temp", BY_CLI);
    expect((await server.services.keys.verify(raw, { resource: temp })).ok).toBe(false);
  });
});

describe("a request naming two resources", () => {
  it("consent names both; the key is bound to the one the token request picks, not both", async () => {
    const pkce = pkcePair();
    const url = `${authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read", resource: notes })}&resource=${encodeURIComponent(tickets)}`;
    const page = await follow(person.agent, server, url);
    if (page.location) {
      // refused outright is fine too, as long as it is an OAuth error and not a key
      expect(new URL(page.location).searchParams.get("error")).toBeTruthy();
      return;
    }
    expect(page.text).toContain(`<strong class="resource-name">Team notes and &lt;b&gt;Tickets&lt;/b&gt; &amp; co</strong>`);
    const back = await decideOnConsent(person.agent, server, page);
    const code = back.searchParams.get("code")!;
    const token = await exchange(server, { clientId, code, verifier: pkce.verifier, resource: notes });
    expect(token.status, token.text).toBe(200);
    const raw = token.body.access_token as string;
    expect((await server.services.keys.verify(raw, { resource: notes })).ok).toBe(true);
    expect((await server.services.keys.verify(raw, { resource: tickets })).ok).toBe(false);
  });
});

describe("unknown resources are invalid_target", () => {
  it.each([
    ["an unknown slug", () => `${server.url}/mcp/nope`],
    ["an upper-case slug", () => `${server.url}/mcp/NOTES`],
    ["an encoded slug", () => `${server.url}/mcp/no%74es`],
    ["a deeper path", () => `${server.url}/mcp/notes/extra`],
    ["another host", () => `https://elsewhere.example/mcp/notes`],
    ["the metadata URL", () => `${server.url}/.well-known/oauth-protected-resource/mcp/notes`],
  ])("%s", async (_name, resource) => {
    const page = await consentPage(resource());
    expect(page.location, page.text.slice(0, 200)).toBeDefined();
    expect(new URL(page.location!).searchParams.get("error")).toBe("invalid_target");
  });

  it("a resource added on the fly is accepted at once", async () => {
    const page1 = await consentPage(`${server.url}/mcp/fresh`);
    expect(new URL(page1.location!).searchParams.get("error")).toBe("invalid_target");
    await server.services.resources.add({ slug: "fresh", name: "Fresh", upstream: "http://127.0.0.1:4613/mcp" }, BY_CLI);
    const page2 = await consentPage(`${server.url}/mcp/fresh`);
    expect(page2.status).toBe(200);
    expect(page2.text).toContain(`<strong class="resource-name">Fresh</strong>`);
    // Allow works: csrf from the page
    expect(csrfFrom(page2.text)).toBeTruthy();
  });
});
