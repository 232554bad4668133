// loadConfig: defaults, overrides, validation errors; and a custom KEY_PREFIX end to end.
import { describe, expect, it } from "vitest";
import request from "supertest";
import { ConfigError, loadConfig } from "../src/config.js";
import { mintOnPage, signUp, startTestServer } from "./support/server.js";
import { mcpWhoami } from "./support/mcp-status.js";

describe("loadConfig", () => {
  it("has sensible defaults", () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe("0.0.0.0");
    expect(c.baseUrl).toBe("http://localhost:3000");
    expect(c.secureCookies).toBe(false);
    expect(c.databaseUrl).toBe("file:./data/keyward.db");
    expect(c.keyPrefix).toBe("kw_user_");
    expect(c.allowSignup).toBe(true);
    expect(c.logLevel).toBe("info");
    expect(c.trustProxy).toBe(false);
    expect(c.sessionTtlMs).toBe(14 * 24 * 3600_000);
    expect(c.lastUsedFlushMs).toBe(60_000);
    expect(c.loginMaxFailures).toBe(5);
    expect(c.loginWindowMs).toBe(15 * 60_000);
    expect(c.scopes).toEqual(["mcp:read", "mcp:write"]);
    expect(c.cookieSecret).toBeUndefined();
  });

  it("follows PORT for the base URL until ISSUER overrides it (trailing slashes dropped)", () => {
    expect(loadConfig({ PORT: "8080" }).baseUrl).toBe("http://localhost:8080");
    const c = loadConfig({ PORT: "8080", ISSUER: "https://auth.example.com/" });
    expect(c.port).toBe(8080);
    expect(c.baseUrl).toBe("https://auth.example.com");
    expect(c.secureCookies).toBe(true);
    expect(loadConfig({ ISSUER: "http://10.0.0.5:3000//" }).baseUrl).toBe("http://10.0.0.5:3000");
  });

  it("parses booleans, numbers and scope lists", () => {
    const c = loadConfig({ ALLOW_SIGNUP: "no", TRUST_PROXY: "1", LAST_USED_FLUSH_SECONDS: "5", SCOPES: "a:b, c:d  e", KEY_PREFIX: "bb_" });
    expect(c.allowSignup).toBe(false);
    expect(c.trustProxy).toBe(true);
    expect(c.lastUsedFlushMs).toBe(5000);
    expect(c.scopes).toEqual(["a:b", "c:d", "e"]);
    expect(c.keyPrefix).toBe("bb_");
    // empty values count as unset
    expect(loadConfig({ PORT: "", KEY_PREFIX: "" })).toMatchObject({ port: 3000, keyPrefix: "kw_user_" });
  });

  it("lists every problem in one ConfigError", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "abc", ISSUER: "not a url", KEY_PREFIX: "BAD", ALLOW_SIGNUP: "maybe", COOKIE_SECRET: "short" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split("\n")[0]).toBe("Invalid configuration:");
    for (const name of ["PORT", "ISSUER", "KEY_PREFIX", "ALLOW_SIGNUP", "COOKIE_SECRET"])
      expect(message).toMatch(new RegExp(`^  ${name}: `, "m"));
    expect(message).toContain("KEY_PREFIX must look like kw_user_ or bb_");
    expect(message).toContain("COOKIE_SECRET must be at least 32 characters");
    expect(message.split("\n")).toHaveLength(6);
  });

  it("refuses out-of-range ports and prefixes that are not lowercase with a trailing _", () => {
    expect(() => loadConfig({ PORT: "70000" })).toThrow(ConfigError);
    for (const prefix of ["kw", "kw-user_", "Kw_", "kw_user", "_kw_"])
      expect(() => loadConfig({ KEY_PREFIX: prefix }), prefix).toThrow(/KEY_PREFIX/);
  });
});

describe("KEY_PREFIX", () => {
  it("bb_ mints bb_ keys on the page and the API, and they work at /mcp", async () => {
    const server = await startTestServer({ KEY_PREFIX: "bb_" });
    try {
      const { agent, csrf } = await signUp(server);
      const { raw } = await mintOnPage(agent, csrf, "branded");
      expect(raw).toMatch(/^bb_[0-9A-Za-z]{49}$/);
      const viaApi = await request(server.url)
        .post("/api/api-keys")
        .set("Authorization", `Bearer ${raw}`)
        .send({ label: "api" })
        .expect(201);
      expect(viaApi.body.key).toMatch(/^bb_[0-9A-Za-z]{49}$/);
      const res = await mcpWhoami(server, viaApi.body.key as string, { as: "x-api-key" }).expect(200);
      expect(res.body.result.structuredContent.keySource).toBe("Portal");
    } finally {
      await server.close();
    }
  });
});
