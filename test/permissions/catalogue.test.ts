// The scope catalogue: format, validation at start, implications; and where it is advertised.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import request from "supertest";
import { buildCatalogue, CatalogueError, DEFAULT_CATALOGUE, expandScopes } from "../../src/scopes/catalogue.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { signUp, startTestServer, type TestServer } from "../support/server.js";

const problems = (input: unknown) => {
  try {
    buildCatalogue(input);
  } catch (err) {
    if (err instanceof CatalogueError) return err.problems;
    throw err;
  }
  return [];
};

describe("buildCatalogue", () => {
  it("the default: mcp:read (Read access), mcp:write (Read and write access) implying mcp:read", () => {
    expect(DEFAULT_CATALOGUE).toEqual([
      { name: "mcp:read", description: "Read access", implies: [], readOnly: true },
      { name: "mcp:write", description: "Read and write access", implies: ["mcp:read"], readOnly: false },
    ]);
  });

  it("refuses cycles, unknown implied scopes, bad and duplicate names, listing every problem", () => {
    expect(
      problems([
        { name: "a:write", description: "A", implies: ["a:admin"] },
        { name: "a:admin", description: "B", implies: ["a:write"] },
      ]),
    ).toEqual(["implication cycle: a:write → a:admin → a:write"]);
    expect(problems([{ name: "a:write", description: "A", implies: ["a:read", "b:read"] }])).toEqual([
      'scope "a:write" implies unknown scope "a:read"',
      'scope "a:write" implies unknown scope "b:read"',
    ]);
    expect(problems([{ name: "has space", description: "x" }])[0]).toMatch(/^\[0\.name\] scope names use/);
    expect(
      problems([
        { name: "x", description: "x" },
        { name: "x", description: "y" },
        { name: "openid", description: "z" },
      ]),
    ).toEqual(['scope "x" is listed twice', 'scope "openid" is reserved by OpenID Connect']);
    expect(problems([{ name: "x", description: "" }])).toHaveLength(1);
    expect(problems([])).toEqual(["the catalogue must name at least one scope"]);
    expect(problems({ name: "x" })).toHaveLength(1);
  });

  it("expands implications transitively", () => {
    const c = buildCatalogue([
      { name: "env:admin", description: "all", implies: ["env:write"] },
      { name: "env:write", description: "rw", implies: ["env:read"] },
      { name: "env:read", description: "r" },
      { name: "usage:read", description: "u" },
    ]);
    expect([...expandScopes(c, ["env:admin"])].sort()).toEqual(["env:admin", "env:read", "env:write"]);
    expect([...expandScopes(c, ["usage:read", "nope"])]).toEqual(["usage:read"]);
  });
});

describe("SCOPES_FILE", () => {
  const file = (name: string, text: string) => {
    const p = path.join(tmpdir(), `kw-scopes-${process.pid}-${name}.json`);
    writeFileSync(p, text);
    return p;
  };

  it("a bad catalogue stops the start with the problem named", () => {
    const bad = file(
      "cycle",
      JSON.stringify([
        { name: "a", description: "A", implies: ["b"] },
        { name: "b", description: "B", implies: ["a"] },
      ]),
    );
    expect(() => loadConfig({ SCOPES_FILE: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ SCOPES_FILE: bad })).toThrow(/SCOPES_FILE: invalid scope catalogue: implication cycle: a → b → a/);
    expect(() => loadConfig({ SCOPES_FILE: file("json", "{") })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ SCOPES_FILE: "/nonexistent/scopes.json" })).toThrow(/cannot read \/nonexistent\/scopes.json: ENOENT/);
  });

  it("the SCOPES list stays a fallback: x:write implies x:read when both are listed", () => {
    const c = loadConfig({ SCOPES: "env:read env:write usage:read" });
    expect(c.scopes).toEqual(["env:read", "env:write", "usage:read"]);
    expect(c.scopeCatalogue.find((s) => s.name === "env:write")!.implies).toEqual(["env:read"]);
  });

  describe("a server with a catalogue file", () => {
    let server: TestServer;
    beforeAll(async () => {
      const catalogue = [
        { name: "notes:read", description: "Read your notes" },
        { name: "notes:write", description: "Write your notes", implies: ["notes:read"] },
      ];
      server = await startTestServer({ SCOPES_FILE: file("good", JSON.stringify(catalogue)) });
    });
    afterAll(async () => server?.close());

    it("advertises it in both metadata documents and describes it on the mint form", async () => {
      const as = await request(server.url).get("/.well-known/oauth-authorization-server").expect(200);
      expect(as.body.scopes_supported).toEqual(expect.arrayContaining(["notes:read", "notes:write"]));
      expect(as.body.scopes_supported).not.toContain("mcp:read");
      const prm = await request(server.url).get("/.well-known/oauth-protected-resource/mcp").expect(200);
      expect(prm.body.scopes_supported).toEqual(["notes:read", "notes:write"]);
      const { agent } = await signUp(server);
      const page = await agent.get("/app/account/api-keys").expect(200);
      expect(page.text).toContain("<code>notes:write</code> — Write your notes");
      expect(page.text).toContain("(includes notes:read)");
      expect(page.text).toContain("<strong>your full access</strong>");
    });
  });
});
