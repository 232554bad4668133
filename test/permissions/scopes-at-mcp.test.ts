// Scopes at /mcp (each tool needs one; insufficient_scope is an HTTP 403 with the RFC 6750
// challenge) and at consent (the user grants a subset; the client gets exactly that subset).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "../support/server.js";
import { mcpPost, toolCall } from "../support/mcp-status.js";
import { authorizeUrl, exchange, follow, pkcePair, register } from "../support/oauth/flow.js";

let server: TestServer;
let user: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  server = await startTestServer();
  user = await signUp(server);
});
afterAll(async () => server?.close());

const call = (raw: string, body: object) => mcpPost(server, raw, body);
const prm = () => `${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp`;

describe("tool scopes at /mcp", () => {
  it("a read-only key calls the read tool and gets 403 insufficient_scope (with the header) on the write tool", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "read only", ["mcp:read"]);
    const list = await call(raw, toolCall("notes_list"));
    expect(list.status, list.text).toBe(200);
    expect(list.body.result.structuredContent).toEqual({ notes: [] });

    const write = await call(raw, toolCall("notes_add", { text: "hello" }));
    expect(write.status).toBe(403);
    expect(write.headers["www-authenticate"]).toBe(
      `Bearer error="insufficient_scope", scope="mcp:write", resource_metadata="${prm()}", error_description="This key lacks the mcp:write scope (needed for notes_add)"`,
    );
    expect(write.headers["cache-control"]).toBe("no-store");
    expect(write.body).toEqual({
      error: "insufficient_scope",
      error_description: "This key lacks the mcp:write scope (needed for notes_add)",
      scope: "mcp:write",
    });
    // nothing was written
    expect((await call(raw, toolCall("notes_list"))).body.result.structuredContent).toEqual({ notes: [] });
  });

  it("a batch is refused when any call in it lacks its scope", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "read only batch", ["mcp:read"]);
    const res = await call(raw, [toolCall("notes_list", {}, 1), toolCall("notes_add", { text: "x" }, 2)]);
    expect(res.status).toBe(403);
    expect(res.headers["www-authenticate"]).toContain('error="insufficient_scope", scope="mcp:write"');
  });

  it("mcp:write implies mcp:read; no scopes = full access", async () => {
    for (const scopes of [["mcp:write"], []]) {
      const { raw } = await mintOnPage(user.agent, user.csrf, `w ${scopes.join()}`, scopes);
      const text = `note [${scopes.join()}]`;
      const add = await call(raw, toolCall("notes_add", { text }));
      expect(add.status, add.text).toBe(200);
      expect(add.body.result.isError).toBeFalsy();
      const list = await call(raw, toolCall("notes_list"));
      expect(list.status).toBe(200);
      expect(list.body.result.structuredContent.notes.map((n: { text: string }) => n.text)).toContain(text);
      const who = await call(raw, toolCall("whoami"));
      expect(who.body.result.structuredContent.effectiveScopes).toEqual(["mcp:read", "mcp:write"]);
    }
  });

  it("tools/list shows every tool to a read-only key, each naming its scope", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "lister", ["mcp:read"]);
    const res = await call(raw, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
    expect(res.status).toBe(200);
    const tools = res.body.result.tools as { name: string; description: string }[];
    expect(Object.fromEntries(tools.map((t) => [t.name, /Requires scope (\S+)\.$/.exec(t.description)?.[1]]))).toEqual({
      whoami: "mcp:read",
      notes_list: "mcp:read",
      notes_add: "mcp:write",
    });
  });
});

describe("consent grants a subset", () => {
  async function consentPage(scope: string) {
    const reg = await register(server);
    const clientId = reg.body.client_id as string;
    const pkce = pkcePair();
    const page = await follow(
      user.agent,
      server,
      authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope, resource: `${server.url}/mcp` }),
    );
    return { clientId, pkce, page };
  }

  async function submit(page: { text: string }, form: Record<string, string | string[]>) {
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(page.text)![1]!;
    const res = await user.agent
      .post(`/interaction/${uid}/confirm`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), ...form })
      .redirects(0);
    expect(res.status, res.text).toBe(303);
    return new URL((await follow(user.agent, server, res.headers.location!)).location!);
  }

  it("lists the requested scopes with their descriptions, all ticked", async () => {
    const { page } = await consentPage("mcp:read mcp:write");
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<input type="checkbox" name="scopes" value="mcp:read" checked>\s*<code>mcp:read<\/code> — Read access/);
    expect(page.text).toMatch(
      /value="mcp:write" checked>\s*<code>mcp:write<\/code> — Read and write access <small class="muted">\(includes mcp:read\)<\/small>/,
    );
  });

  it("the client receives exactly the ticked subset: token scope and key row", async () => {
    const { clientId, pkce, page } = await consentPage("mcp:read mcp:write");
    const back = await submit(page, { scope_choice: "1", scopes: ["mcp:read"] });
    const code = back.searchParams.get("code");
    expect(code, back.toString()).toBeTruthy();
    const token = await exchange(server, { clientId, code: code!, verifier: pkce.verifier, resource: `${server.url}/mcp` });
    expect(token.status, token.text).toBe(200);
    expect(token.body.scope).toBe("mcp:read");
    const raw = token.body.access_token as string;
    const verified = await server.services.keys.verify(raw);
    expect(verified.ok && verified.key.scopes).toEqual(["mcp:read"]);
    expect((await call(raw, toolCall("notes_add", { text: "no" }))).status).toBe(403);
    expect((await call(raw, toolCall("notes_list"))).status).toBe(200);
  });

  it("ticking nothing is a denial: access_denied back at the client, no code", async () => {
    const { page } = await consentPage("mcp:read mcp:write");
    const back = await submit(page, { scope_choice: "1" });
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("code")).toBeNull();
  });

  it("an unknown scope is invalid_scope, sent back to the client", async () => {
    const reg = await register(server);
    const { challenge } = pkcePair();
    const res = await follow(
      user.agent,
      server,
      authorizeUrl({ clientId: reg.body.client_id, challenge, method: "S256", scope: "mcp:read mcp:delete" }),
    );
    const back = new URL(res.location!);
    expect(back.origin + back.pathname).toBe("http://127.0.0.1:33418/callback");
    expect(back.searchParams.get("error")).toBe("invalid_scope");
    expect(back.searchParams.get("error_description")).toContain("mcp:delete");
  });
});
