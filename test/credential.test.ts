// readCredential (src/http/credential.ts): the presented key from Node's raw header list, without a
// headers object or a regular expression. Pinned here: what counts as `Bearer <key>` and `DPoP <key>`,
// that header names are case-insensitive, and that a header sent twice is refused rather than guessed at.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasCredential, readCredential, type Credential } from "../src/http/credential.js";
import type { Ctx } from "../src/http/state.js";

/** A context with exactly these raw headers (name, value, name, value …), as Node hands them over. */
const ctxWith = (...rawHeaders: string[]) => ({ req: { rawHeaders } }) as unknown as Ctx;
const read = (...rawHeaders: string[]): Credential => readCredential(ctxWith(...rawHeaders));
const KEY = "kw_user_3RkZq0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789aQ1w2E3";
/** A key presented with the Bearer scheme or X-API-Key, no DPoP proof. */
const BEARER = { kind: "key", raw: KEY, scheme: "bearer", proofs: [] };

describe("readCredential", () => {
  it("takes the key from Authorization: Bearer or X-API-Key, header names in any case", () => {
    for (const name of ["authorization", "Authorization", "AUTHORIZATION"])
      expect(read("Host", "x", name, `Bearer ${KEY}`)).toEqual(BEARER);
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) expect(read("authorization", `${scheme} ${KEY}`)).toEqual(BEARER);
    for (const name of ["x-api-key", "X-API-Key", "X-Api-Key"]) expect(read(name, KEY)).toEqual(BEARER);
    expect(read("x-api-key", `  ${KEY}\t`)).toEqual(BEARER);
  });

  it("allows extra spaces around the token, as before", () => {
    expect(read("authorization", `Bearer    ${KEY}`)).toEqual(BEARER);
    expect(read("authorization", `Bearer ${KEY}   `)).toEqual(BEARER);
    expect(read("authorization", `Bearer ${KEY}\t`)).toEqual(BEARER);
  });

  it("no header, or empty ones → none", () => {
    expect(read()).toEqual({ kind: "none" });
    expect(read("Host", "example.com", "X-Other", "Bearer abc")).toEqual({ kind: "none" });
    expect(read("authorization", "", "x-api-key", "   ")).toEqual({ kind: "none" });
  });

  it("reads `DPoP <key>` (RFC 9449) and collects every DPoP header, in order; Bearer keeps its proofs too", () => {
    for (const scheme of ["DPoP", "dpop", "DPOP"])
      expect(read("authorization", `${scheme}  ${KEY} `)).toEqual({ ...BEARER, scheme: "dpop" });
    expect(read("Authorization", `DPoP ${KEY}`, "DPoP", "p1")).toEqual({ ...BEARER, scheme: "dpop", proofs: ["p1"] });
    expect(read("Authorization", `DPoP ${KEY}`, "dpop", "p1", "DPOP", "p2")).toEqual({ ...BEARER, scheme: "dpop", proofs: ["p1", "p2"] });
    expect(read("Authorization", `DPoP ${KEY}`, "x-api-key", KEY)).toEqual({ ...BEARER, scheme: "dpop" });
    expect(read("Authorization", `Bearer ${KEY}`, "DPoP", "p1")).toEqual({ ...BEARER, proofs: ["p1"] });
    expect(read("DPoP", "p1")).toEqual({ kind: "none" });
  });

  it("anything but `Bearer <one token>` or `DPoP <one token>` in Authorization is malformed", () => {
    for (const value of [
      "Basic dXNlcjpwYXNz",
      "Bearer",
      "Bearer ",
      "Bearer    ",
      "Bearer\tabc",
      "Bearerabc",
      "DPoP",
      "DPoP ",
      "DPoPabc",
      `DPoP ${KEY} extra`,
      `DPoP: ${KEY}`,
      `Bearer ${KEY} extra`,
      `Bearer a\u0000b`,
      `Bearer a\u007fb`,
      `Token ${KEY}`,
      `Bearer: ${KEY}`,
    ]) {
      const got = read("authorization", value);
      expect(got, JSON.stringify(value)).toEqual({
        kind: "malformed",
        reason: "The Authorization header must be `Bearer <key>` or `DPoP <key>`",
      });
    }
  });

  it("two different keys, or one header twice → malformed", () => {
    expect(read("authorization", `Bearer ${KEY}`, "x-api-key", `${KEY}x`)).toMatchObject({
      kind: "malformed",
      reason: expect.stringMatching(/not two different ones/),
    });
    expect(read("authorization", `Bearer ${KEY}`, "x-api-key", KEY)).toEqual(BEARER); // the same key twice is fine
    expect(read("Authorization", `Bearer ${KEY}`, "authorization", `Bearer ${KEY}`)).toMatchObject({
      kind: "malformed",
      reason: expect.stringMatching(/once/),
    });
    expect(read("X-API-Key", KEY, "x-api-key", "other")).toMatchObject({ kind: "malformed", reason: expect.stringMatching(/once/) });
  });

  it("hasCredential says whether any key was presented at all", () => {
    expect(hasCredential(ctxWith())).toBe(false);
    expect(hasCredential(ctxWith("Host", "x", "Cookie", "a=b"))).toBe(false);
    expect(hasCredential(ctxWith("Authorization", "Basic x"))).toBe(true);
    expect(hasCredential(ctxWith("X-API-Key", "nonsense"))).toBe(true);
    expect(hasCredential(ctxWith("x-api-key", "a", "X-Api-Key", "b"))).toBe(true);
  });
});

describe("readCredential on a real Node request", () => {
  // rawHeaders as Node's own HTTP parser produces them (whitespace trimming, duplicates kept).
  let server: http.Server;
  let seen: Credential[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(readCredential({ req } as unknown as Ctx));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (headers: string[]) =>
    new Promise<Credential>((resolve, reject) => {
      seen = [];
      const port = (server.address() as AddressInfo).port;
      // As an array, headers go out exactly as given (duplicates too), so Host must be among them.
      const req = http.request({ host: "127.0.0.1", port, headers: ["Host", `127.0.0.1:${port}`, ...headers] });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve(seen[0]!));
      });
      req.on("error", reject);
      req.end();
    });

  it("reads the key, and refuses a duplicated Authorization header", async () => {
    expect(await send(["Authorization", `Bearer   ${KEY}  `])).toEqual(BEARER);
    expect(await send(["X-API-Key", KEY])).toEqual(BEARER);
    expect(await send(["Authorization", `Bearer ${KEY}`, "Authorization", "Bearer other"])).toMatchObject({ kind: "malformed" });
    // Two DPoP header lines stay two proofs (Node keeps duplicates in rawHeaders): none is picked.
    expect(await send(["Authorization", `DPoP ${KEY}`, "DPoP", "p1", "DPoP", "p2"])).toEqual({
      ...BEARER,
      scheme: "dpop",
      proofs: ["p1", "p2"],
    });
  });
});
