// Pieces of the gateway that need no server: the assertion's key choice, header-safe values, the
// streams-per-key counter, the health write throttle.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { AHEAD_FRESH_SECONDS, createAssertionSigner } from "../src/gateway/assertion.js";
import { headerSafe, upstreamRequestHeaders } from "../src/gateway/headers.js";
import { createStreamSlots } from "../src/gateway/streams.js";
import { createHealthRecorder } from "../src/gateway/health.js";
import type { KeyAuth } from "../src/http/state.js";
import type { Db } from "../src/db/client.js";
import type { Logger } from "../src/log.js";

const jwkOf = (type: "rsa" | "ed25519", extra: Record<string, unknown>) => {
  const { privateKey } = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
  return { ...privateKey.export({ format: "jwk" }), ...extra } as Record<string, unknown>;
};

const identity = (email = "a@example.com") =>
  ({
    via: "key",
    user: { id: "usr_1", email },
    app: null,
    organizationId: "org_1",
    role: "owner",
    key: { id: "key_1", source: "oauth", clientId: "dcr_1" },
    scopes: ["mcp:read", "mcp:write"],
  }) as unknown as KeyAuth;

describe("the assertion signer", () => {
  it("uses the cheapest signing key of the set (EdDSA over RS256), named by kid", async () => {
    const rsa = jwkOf("rsa", { kid: "r1", use: "sig", alg: "RS256" });
    const ed = jwkOf("ed25519", { kid: "e1", use: "sig" });
    const signer = createAssertionSigner({ keys: [rsa, ed] }, "https://kw.example");
    const jwt = await signer.sign(identity(), "https://kw.example/mcp/notes");
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: "EdDSA", kid: "e1", typ: "kw-assertion+jwt" });
    const { d: _d, ...pub } = ed as JWK;
    const { payload } = await jwtVerify(jwt, await importJWK(pub, "EdDSA"), {
      issuer: "https://kw.example",
      audience: "https://kw.example/mcp/notes",
    });
    expect(payload).toMatchObject({
      sub: "usr_1",
      sub_type: "user",
      scope: "mcp:read mcp:write",
      org: "org_1",
      key_id: "key_1",
      client_id: "dcr_1",
    });
  });

  it("RS256 when that is all the set has", async () => {
    const signer = createAssertionSigner({ keys: [jwkOf("rsa", { kid: "r1", use: "sig", alg: "RS256" })] }, "https://kw.example");
    expect(decodeProtectedHeader(await signer.sign(identity(), "https://kw.example/mcp/x")).alg).toBe("RS256");
  });

  it("signs what jose verifies, with every kind of key it may be given, a new jti each time", async () => {
    const { privateKey: ec } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const keys = [jwkOf("ed25519", {}), jwkOf("rsa", { alg: "RS256" }), { ...ec.export({ format: "jwk" }) }] as JWK[];
    for (const jwk of keys) {
      const signer = createAssertionSigner({ keys: [jwk] } as never, "https://kw.example");
      const jwt = await signer.sign(identity(), "https://kw.example/mcp/x");
      const { alg } = decodeProtectedHeader(jwt);
      const { d: _d, ...pub } = jwk;
      const { payload } = await jwtVerify(jwt, await importJWK(pub, alg), {
        issuer: "https://kw.example",
        audience: "https://kw.example/mcp/x",
        typ: "kw-assertion+jwt",
        requiredClaims: ["iat", "exp", "jti", "sub"],
      });
      expect(payload.exp! - payload.iat!).toBe(60);
      const again = decodeJwt(await signer.sign(identity(), "https://kw.example/mcp/x"));
      expect(again.jti).not.toBe(payload.jti);
    }
  });

  it("signs one ahead: the next request with the same claims takes it while it is fresh, each assertion goes to one request", async () => {
    let clock = 1_000_000_000_000; // ms
    const signer = createAssertionSigner({ keys: [jwkOf("ed25519", {})] } as never, "https://kw.example", { now: () => clock });
    const aud = "https://kw.example/mcp/x";
    const tick = () => new Promise((r) => setImmediate(r));
    const first = decodeJwt(await signer.sign(identity(), aud));
    expect(first.iat).toBe(clock / 1000);
    await tick(); // the next one is signed now, at the same second
    clock += 3000;
    const second = decodeJwt(await signer.sign(identity(), aud));
    expect(second.iat).toBe(first.iat); // signed ahead, 3 s ago: still 57 s to live
    expect(second.exp! - second.iat!).toBe(60);
    expect(second.jti).not.toBe(first.jti);
    await tick(); // signed ahead again, at +3 s
    clock += (AHEAD_FRESH_SECONDS + 2) * 1000;
    const third = decodeJwt(await signer.sign(identity(), aud));
    expect(third.iat).toBe(clock / 1000); // the one ahead was too old: signed on the spot
    // Other claims (another user's email, other scopes, another resource) never get it.
    await tick();
    const other = decodeJwt(await signer.sign({ ...identity(), scopes: ["mcp:read"] } as KeyAuth, aud));
    expect(other.scope).toBe("mcp:read");
    expect(decodeJwt(await signer.sign(identity("b@example.com"), aud)).email).toBe("b@example.com");
    expect(decodeJwt(await signer.sign(identity(), "https://kw.example/mcp/y")).aud).toBe("https://kw.example/mcp/y");
    // Back to back, with or without a turn between: never the same assertion twice.
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      tokens.add(await signer.sign(identity(), aud));
      if (i % 2) await tick();
    }
    expect(tokens.size).toBe(20);
    expect(new Set([...tokens].map((t) => decodeJwt(t).jti)).size).toBe(20);
  });

  it("refuses at start a key whose algorithm it cannot sign with", () => {
    expect(() => createAssertionSigner({ keys: [jwkOf("rsa", { alg: "PS256" })] } as never, "https://kw.example")).toThrow(/PS256/);
  });
});

describe("identity header values", () => {
  it("cannot carry CR, LF or anything outside printable ASCII, and decode back", () => {
    for (const value of ["a@example.com", "a\r\nX-Evil: 1@example.com", "jöns@exämple.com", "100%@example.com", "a b"]) {
      const safe = headerSafe(value);
      expect(safe).toMatch(/^[\x21-\x7e]*$/);
      expect(decodeURIComponent(safe)).toBe(value);
    }
    expect(headerSafe("usr_abc")).toBe("usr_abc");
  });

  it("client X-Keyward-* and credentials are dropped whatever their case; Connection-listed headers too", () => {
    const out = upstreamRequestHeaders(
      {
        "x-keyward-user-id": "spoof",
        "X-KEYWARD-ROLE": "admin",
        authorization: "Bearer x",
        connection: "x-secret",
        "x-secret": "1",
        accept: "*/*",
      },
      identity("jöns@exämple.com"),
      "jwt",
    );
    expect(out["x-keyward-user-id"]).toBe("usr_1");
    expect(out["X-KEYWARD-ROLE"]).toBeUndefined();
    expect(out["x-keyward-role"]).toBeUndefined();
    expect(out.authorization).toBeUndefined();
    expect(out["x-secret"]).toBeUndefined();
    expect(out.accept).toBe("*/*");
    expect(out["x-keyward-user-email"]).toBe("j%C3%B6ns@ex%C3%A4mple.com");
    expect(out["x-keyward-client-id"]).toBe("dcr_1");
  });
});

describe("streams per key", () => {
  it("counts per key, refuses past the limit, and a release counts once", () => {
    const slots = createStreamSlots(2);
    const r1 = slots.take("k")!;
    slots.take("k");
    expect(slots.take("k")).toBeUndefined();
    expect(slots.take("other")).toBeDefined();
    r1();
    r1();
    expect(slots.open("k")).toBe(1);
    expect(slots.take("k")).toBeDefined();
    expect(slots.take("k")).toBeUndefined();
  });
});

describe("health writes", () => {
  it("at most one per resource per interval, the window's latest observations written when it ends; a failed write fails nothing", async () => {
    const writes: unknown[] = [];
    let fail = false;
    const db = {
      resource: { findUnique: async () => ({ id: "res" }) },
      resourceHealth: {
        upsert: async (args: unknown) => {
          if (fail) throw new Error("database down");
          writes.push(args);
        },
      },
    } as unknown as Db;
    const warned: unknown[] = [];
    const logger = { warn: (o: unknown) => warned.push(o) } as unknown as Logger;
    const health = createHealthRecorder(db, logger, 100);
    health.note("res_1", { ok: true, latencyMs: 3.4, at: new Date() });
    for (let i = 0; i < 50; i++) health.note("res_1", { ok: true, latencyMs: 5, at: new Date() });
    health.note("res_1", { ok: false, error: "connection refused", at: new Date() });
    await new Promise((r) => setTimeout(r, 20));
    expect(writes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(writes).toHaveLength(2);
    expect(JSON.stringify(writes[1])).toContain("connection refused");
    expect(JSON.stringify(writes[1])).toContain('"latencyMs":5');
    fail = true;
    health.note("res_2", { ok: true, latencyMs: 1, at: new Date() });
    await new Promise((r) => setTimeout(r, 20));
    expect(warned).toHaveLength(1);
  });
});
