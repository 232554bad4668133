// Ill-formed Unicode from the attacker's side (issue 22, item 11): lone UTF-16 surrogates in JSON
// ("\ud800") and percent-escapes that are not UTF-8 (%ED%A0%80) in URLs and forms are refused at the
// edge with a 400 and write nothing; well-formed text (astral characters, surrogate pairs) still works.
// An MCP tool that fails inside answers with a generic tool error, never the database's message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange } from "./support/oauth/flow.js";
import { hmacSignature } from "../src/secret-scanning/signature.js";
import { mcpWhoami } from "./support/mcp-status.js";

const SECRET_SCANNING_SECRET = "unicode-test-secret-scanning-0123456789";

let server: TestServer;
let user: Awaited<ReturnType<typeof signUp>>;
let key: string;

beforeAll(async () => {
  server = await startTestServer({ SECRET_SCANNING_SECRET });
  user = await signUp(server);
  key = (await mintOnPage(user.agent, user.csrf, "unicode", ["mcp:read", "mcp:write", "keys:write", "orgs:write"])).raw;
});
afterAll(async () => server?.close());

const STACK_OR_PATH = /at .+\.(ts|js):\d+|node_modules|\/src\/|prisma|invalid `|\.ts:\d+/i;
const counts = async () => {
  const { db } = server.services;
  return {
    keys: await db.apiKey.count(),
    orgs: await db.organization.count(),
    users: await db.user.count(),
    notes: await db.note.count(),
    audit: await db.auditEvent.count(),
  };
};
/** A JSON body sent as raw text: JSON.stringify writes a lone surrogate as the escape \ud800. */
const jsonText = (value: unknown) => JSON.stringify(value);
const api = (method: "post" | "get", path: string) => request(server.url)[method](path).set("Authorization", `Bearer ${key}`);
const callTool = (name: string, args: Record<string, unknown>) =>
  request(server.url)
    .post("/mcp")
    .set("Authorization", `Bearer ${key}`)
    .set("Accept", "application/json, text/event-stream")
    .set("Content-Type", "application/json")
    .send(jsonText({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }));

function refused(res: request.Response, where: "body" | "URL") {
  expect(res.status, res.text.slice(0, 300)).toBe(400);
  expect(res.text).not.toMatch(STACK_OR_PATH);
  if (/json/.test(res.headers["content-type"] ?? "")) {
    expect(res.body).toEqual({
      error: "invalid_request",
      error_description: `The request ${where} contains ill-formed Unicode (a lone UTF-16 surrogate or bytes that are not UTF-8)`,
    });
  } else {
    expect(res.text).toContain("ill-formed Unicode");
  }
}

const LONE = { high: "\ud800", low: "\udc00", reversed: "\udc00\ud800", "high at the end": "abc\udbff", "low at the start": "\udfffabc" };

describe("lone surrogates in JSON bodies", () => {
  it.each(Object.entries(LONE))(
    "POST /api/api-keys refuses a %s surrogate in label, organizationId, scopes and a key name",
    async (_name, s) => {
      const before = await counts();
      for (const body of [
        { label: s },
        { label: "ok", organizationId: s },
        { label: "ok", scopes: [s] },
        { label: "ok", [s]: 1 },
        { label: "ok", nested: { deeper: [{ x: s }] } },
      ]) {
        refused(await api("post", "/api/api-keys").set("Content-Type", "application/json").send(jsonText(body)), "body");
      }
      expect(await counts()).toEqual(before);
    },
  );

  it("POST /api/orgs refuses a lone surrogate in name; no organisation is created", async () => {
    const before = await counts();
    refused(
      await api("post", "/api/orgs")
        .set("Content-Type", "application/json")
        .send(jsonText({ name: "Acme \ud800" })),
      "body",
    );
    expect(await counts()).toEqual(before);
  });

  it("POST /login and /signup with a JSON body refuse a lone surrogate in the email", async () => {
    const before = await counts();
    for (const path of ["/login", "/signup"]) {
      const res = await user.agent
        .post(path)
        .set("Content-Type", "application/json")
        .set("Accept", "application/json")
        .send(jsonText({ _csrf: user.csrf, email: "\ud800@example.com", password: "correct horse battery" }));
      refused(res, "body");
    }
    expect(await counts()).toEqual(before);
  });

  it("an item nested 10,000 deep is still checked, and still a 400", async () => {
    const deep = `${"[".repeat(10_000)}"\\ud800"${"]".repeat(10_000)}`;
    refused(await api("post", "/api/api-keys").set("Content-Type", "application/json").send(`{"label":"ok","x":${deep}}`), "body");
  });

  it("well-formed astral characters (surrogate pairs, escaped or not) are accepted", async () => {
    const res = await api("post", "/api/api-keys")
      .set("Content-Type", "application/json")
      .send('{"label":"rocket \\ud83d\\ude80 💥","scopes":["mcp:read"]}');
    expect(res.status).toBe(201);
    expect(res.body.label).toBe("rocket 🚀 💥");
  });
});

describe("percent-escapes that are not UTF-8, in forms and URLs", () => {
  it("form bodies: the log-in and mint forms refuse %ED%A0%80 (a UTF-8-encoded surrogate) and %C3 (a cut character)", async () => {
    const before = await counts();
    for (const bad of ["%ED%A0%80", "%C3", "%FF", "a%F0%9F%92"]) {
      refused(
        await user.agent
          .post("/login")
          .type("form")
          .send(`_csrf=${encodeURIComponent(user.csrf)}&email=${bad}&password=x`),
        "body",
      );
      refused(
        await user.agent
          .post("/app/account/api-keys")
          .type("form")
          .send(`_csrf=${encodeURIComponent(user.csrf)}&label=${bad}`),
        "body",
      );
    }
    expect(await counts()).toEqual(before);
  });

  it("a well-formed percent-encoded astral character in a form is accepted", async () => {
    const res = await user.agent
      .post("/app/account/api-keys")
      .type("form")
      .send(`_csrf=${encodeURIComponent(user.csrf)}&label=rocket%20%F0%9F%9A%80`)
      .redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain("rocket 🚀");
  });

  it("paths and query strings of every surface refuse them (JSON API, pages, OAuth, /mcp)", async () => {
    const before = await counts();
    refused(await api("get", "/api/api-keys/key_%ED%A0%80"), "URL");
    refused(await api("get", "/api/api-keys?cursor=%ED%A0%80"), "URL");
    refused(await api("get", "/api/orgs/%C3"), "URL");
    refused(await user.agent.get("/app/account/api-keys?revoked=%ED%A0%80"), "URL");
    refused(await request(server.url).get("/auth?client_id=%ED%A0%80&response_type=code").redirects(0), "URL");
    refused(await request(server.url).post("/token?x=%FF").type("form").send({ grant_type: "authorization_code", code: "x" }), "URL");
    refused(await request(server.url).post("/mcp/%ED%A0%80").set("Authorization", `Bearer ${key}`).send({}), "URL");
    expect(await counts()).toEqual(before);
  });

  it("well-formed percent-encoded UTF-8 in a URL still reaches the route", async () => {
    const res = await api("get", `/api/api-keys/${encodeURIComponent("key_🚀")}`);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("not_found");
  });
});

describe("MCP tools", () => {
  it("notes_add with a lone surrogate in text: 400 at the edge, no note written, no internal text", async () => {
    const before = await counts();
    for (const s of Object.values(LONE)) refused(await callTool("notes_add", { text: `note ${s}` }), "body");
    expect(await counts()).toEqual(before);
  });

  it("notes_add with an over-long text: the SDK's validation message, no note written", async () => {
    const before = await counts();
    const res = await callTool("notes_add", { text: "x".repeat(2001) });
    expect(res.status).toBe(200);
    expect(res.body.result.isError).toBe(true);
    const text = res.body.result.content[0].text as string;
    expect(text).toContain("Input validation error");
    expect(text).toMatch(/2000/);
    expect(text).not.toMatch(STACK_OR_PATH);
    expect(await counts()).toEqual(before);
  });

  it("a tool failing inside (its table gone) answers a generic tool error; the error is logged, not returned", async () => {
    const { db } = server.services;
    const logged = server.logs.length;
    await db.$executeRawUnsafe(`ALTER TABLE "Note" RENAME TO "NoteAway"`);
    try {
      for (const [name, args] of [
        ["notes_add", { text: "hello" }],
        ["notes_list", {}],
      ] as const) {
        const res = await callTool(name, args);
        expect(res.status).toBe(200);
        expect(res.body.result).toEqual({
          isError: true,
          content: [{ type: "text", text: "The tool failed on our side and changed nothing. Please try again." }],
        });
        expect(res.text).not.toMatch(STACK_OR_PATH);
        expect(res.text).not.toMatch(/Note|table|relation|exist/i);
      }
    } finally {
      await db.$executeRawUnsafe(`ALTER TABLE "NoteAway" RENAME TO "Note"`);
    }
    const lines = server.logs.slice(logged).join("");
    expect(lines).toContain("MCP tool failed");
    expect(lines).toContain("notes_add");
    expect(lines).not.toContain(key);
    const ok = await callTool("notes_add", { text: "after" });
    expect(ok.body.result.isError).toBeFalsy();
  });
});

describe("secret-scanning reports (a body the route reads itself)", () => {
  it("a signed report with a lone surrogate in any field: 400, nothing revoked, nothing recorded", async () => {
    const { raw } = await mintOnPage(user.agent, user.csrf, "leaked?", ["mcp:read"]);
    const before = await counts();
    for (const item of [
      { token: raw, source: "\ud800" },
      { token: raw, url: "https://example.com/\udc00" },
      { token: raw, type: "\udc00\ud800" },
      { token: `${raw}\ud800` },
    ]) {
      const body = jsonText([item]);
      const res = await request(server.url)
        .post("/api/secret-scanning/report")
        .set("Content-Type", "application/json")
        .set("X-Keyward-Signature", hmacSignature(SECRET_SCANNING_SECRET, Buffer.from(body)))
        .send(body);
      refused(res, "body");
    }
    expect(await counts()).toEqual(before);
    const mcp = await request(server.url)
      .post("/mcp")
      .set("Authorization", `Bearer ${raw}`)
      .set("Accept", "application/json, text/event-stream")
      .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(mcp.status).toBe(200); // not revoked by a report we refused
  });
});

describe("OAuth clients named with a lone surrogate (the /reg side is H2's: src/oauth)", () => {
  const named = () =>
    request(server.url)
      .post("/reg")
      .set("Content-Type", "application/json")
      .send(jsonText({ client_name: "\ud800", redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" }));

  it("/reg with client_name \\ud800 is never a 5xx", async () => {
    const reg = await named();
    expect(reg.status, reg.text.slice(0, 300)).toBeLessThan(500);
    expect(reg.text).not.toMatch(STACK_OR_PATH);
  });

  it("/reg refuses client_name \\ud800 (400 invalid_client_metadata), so /token never sees such a client", async () => {
    const reg = await named();
    if (reg.status === 201) {
      const { code, verifier } = await authorizeWithPkce(user.agent, server, {
        clientId: reg.body.client_id,
        scope: "mcp:read",
      });
      const token = await exchange(server, { clientId: reg.body.client_id, code, verifier });
      expect(token.status, token.text.slice(0, 300)).toBeLessThan(500);
    }
    expect(reg.status).toBe(400);
    expect(reg.body.error).toBe("invalid_client_metadata");
  });

  // Found by this suite: the key minted at /token is labelled `OAuth: <client name>` cut to 100
  // UTF-16 units (oauthLabel in src/oauth/access-token-adapter.ts), which used to split an astral
  // character at the cut into a lone surrogate that no database stores: 500 on both backends.
  it("a well-formed client name with an emoji across the 100-character label limit still gets its key at /token", async () => {
    const reg = await request(server.url)
      .post("/reg")
      .send({ client_name: `${"a".repeat(92)}🚀`, redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" });
    expect(reg.status).toBe(201);
    const { code, verifier } = await authorizeWithPkce(user.agent, server, {
      clientId: reg.body.client_id,
      scope: "mcp:read",
    });
    const token = await exchange(server, { clientId: reg.body.client_id, code, verifier });
    expect(token.status, token.text.slice(0, 300)).toBe(200);
    const mcp = await mcpWhoami(server, token.body.access_token);
    expect(mcp.status).toBe(200);
  });
});
