// Issue 22 item 4: the client address every per-IP limit, the audit trail and the sessions list use.
// An attacker behind (or pretending to be behind) a proxy writes whatever X-Forwarded-For it likes;
// only the entries our own proxies appended, at the right end, may decide its address.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { ConfigError, loadConfig } from "../src/config.js";
import { clientAddress, parseTrustedProxies } from "../src/http/client-address.js";
import { csrfFrom, signUp, startTestServer, type TestServer } from "./support/server.js";

/** POST /reg with an empty body: counted by the per-IP registration limit before anything else. */
const register = (server: TestServer, xff?: string) => {
  const r = request(server.url).post("/reg").set("Content-Type", "application/json");
  return (xff === undefined ? r : r.set("X-Forwarded-For", xff)).send("{}");
};

/** Logs in with a spoofed X-Forwarded-For; returns the IP the audit trail recorded for it. */
async function loginRecordsIp(server: TestServer, xff: string): Promise<string | null> {
  const user = await signUp(server);
  const agent = request.agent(server.url);
  const form = await agent.get("/login").set("X-Forwarded-For", xff).expect(200);
  await agent
    .post("/login")
    .set("X-Forwarded-For", xff)
    .type("form")
    .send({ _csrf: csrfFrom(form.text), email: user.email, password: user.password })
    .expect(303);
  const userId = (await server.services.users.findByEmail(user.email))!.id;
  const rows = await server.services.db.auditEvent.findMany({
    where: { userId, action: "login.succeeded" },
    orderBy: { createdAt: "desc" },
  });
  return rows[0]?.ip ?? null;
}

describe("TRUST_PROXY=true (the shipped compose: one nginx in front, which appends the real address)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: "true", REGISTRATION_RATE_LIMIT: "3" });
  });
  afterAll(async () => server?.close());

  it("a client rotating the left end of X-Forwarded-For stays on one per-IP counter: 429 after the limit", async () => {
    const statuses: number[] = [];
    // What nginx forwards: the attacker's made-up entries, then the address nginx saw.
    for (let i = 0; i < 6; i++) statuses.push((await register(server, `10.9.${i}.1, 198.51.100.${i}, 203.0.113.7`)).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429, 429]);
    // Someone else behind the same proxy has a counter of their own.
    expect((await register(server, "10.9.0.1, 203.0.113.8")).status).toBe(400);
  });

  it("records the address the proxy appended, not the one the client wrote", async () => {
    expect(await loginRecordsIp(server, "6.6.6.6, 203.0.113.44")).toBe("203.0.113.44");
  });

  it("malformed X-Forwarded-For never fails a request and never gets a counter of its own", async () => {
    const junk = [
      "",
      ",,,",
      "not-an-ip",
      "unknown, ",
      "[::1",
      "1.2.3.4.5",
      "300.1.1.1, 1.2.3",
      "a".repeat(4000),
      "::ffff:zz",
      ", , 999.999.999.999",
    ];
    for (const xff of junk) {
      const res = await request(server.url).get("/login").set("X-Forwarded-For", xff);
      expect(res.status, JSON.stringify(xff.slice(0, 30))).toBe(200);
    }
    // Garbage where the client's address should be: counted as the proxy's (the socket), together.
    const fresh = await startTestServer({ TRUST_PROXY: "true", REGISTRATION_RATE_LIMIT: "2" });
    try {
      const statuses = [];
      for (const xff of ["junk-1", "junk-2", "junk-3"]) statuses.push((await register(fresh, xff)).status);
      expect(statuses).toEqual([400, 400, 429]);
    } finally {
      await fresh.close();
    }
  });
});

describe("TRUSTED_PROXIES", () => {
  it("a hop count takes that many entries from the right (load balancer, then nginx)", async () => {
    const server = await startTestServer({ TRUSTED_PROXIES: "2" });
    try {
      // client-written, real client (appended by the load balancer), load balancer (appended by nginx)
      expect(await loginRecordsIp(server, "6.6.6.6, 198.51.100.23, 10.0.0.5")).toBe("198.51.100.23");
      // Fewer entries than hops (a request that skipped the balancer): the leftmost one we have.
      expect(await loginRecordsIp(server, "10.0.0.5")).toBe("10.0.0.5");
    } finally {
      await server.close();
    }
  });

  it("a CIDR list skips our proxies from the right; a peer outside it is believed about nothing", async () => {
    const trusted = await startTestServer({ TRUSTED_PROXIES: "127.0.0.1/32, 10.0.0.0/8, fd00::/8", REGISTRATION_RATE_LIMIT: "2" });
    const untrusted = await startTestServer({ TRUSTED_PROXIES: "10.0.0.0/8", REGISTRATION_RATE_LIMIT: "2" });
    try {
      expect(await loginRecordsIp(trusted, "6.6.6.6, 198.51.100.9, 10.1.2.3, fd00::1")).toBe("198.51.100.9");
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await register(trusted, `10.${i}.0.1, 198.51.100.77, 10.0.0.1`)).status);
      expect(statuses).toEqual([400, 400, 429]);
      // The test client (127.0.0.1) is not one of untrusted's proxies: its X-Forwarded-For is ignored.
      expect(await loginRecordsIp(untrusted, "198.51.100.9")).toBe("127.0.0.1");
      const direct = [];
      for (let i = 0; i < 3; i++) direct.push((await register(untrusted, `198.51.100.${i}`)).status);
      expect(direct).toEqual([400, 400, 429]);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });

  it("TRUST_PROXY=false (the default) ignores X-Forwarded-For", async () => {
    const server = await startTestServer({ REGISTRATION_RATE_LIMIT: "2" });
    try {
      expect(await loginRecordsIp(server, "198.51.100.9")).toBe("127.0.0.1");
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await register(server, `198.51.100.${i}`)).status);
      expect(statuses).toEqual([400, 400, 429]);
    } finally {
      await server.close();
    }
  });

  it("a bad value stops the server at start with a clear message", () => {
    for (const bad of ["10.0.0.0/33", "nginx", "1.2.3.4/8/8", "-1", "21", ",", "::1/129"]) {
      expect(() => loadConfig({ TRUSTED_PROXIES: bad }), bad).toThrow(ConfigError);
    }
    expect(() => loadConfig({ TRUSTED_PROXIES: "nginx" })).toThrow(/TRUSTED_PROXIES has an entry that is not an address or CIDR range/);
    expect(loadConfig({ TRUST_PROXY: "true" }).trustedProxies).toEqual({ kind: "hops", hops: 1 });
    expect(loadConfig({ TRUST_PROXY: "true", TRUSTED_PROXIES: "0" }).trustedProxies).toEqual({ kind: "none" });
    expect(loadConfig({ TRUSTED_PROXIES: "3" }).trustProxy).toBe(true);
    expect(loadConfig({}).trustedProxies).toEqual({ kind: "none" });
  });
});

describe("clientAddress (the one function)", () => {
  const one = parseTrustedProxies("1");
  const cidrs = parseTrustedProxies("10.0.0.0/8 ::1");
  it.each([
    ["no proxies: the socket", "127.0.0.1", "1.2.3.4", parseTrustedProxies("0"), "127.0.0.1"],
    ["IPv4-mapped socket", "::ffff:10.0.0.2", undefined, one, "10.0.0.2"],
    ["one hop: the rightmost entry", "10.0.0.2", "1.1.1.1, 2.2.2.2", one, "2.2.2.2"],
    ["ports and brackets are dropped", "10.0.0.2", "1.1.1.1, [2001:db8::1]:4711", one, "2001:db8::1"],
    ["v4 with a port", "10.0.0.2", "198.51.100.1:5555", one, "198.51.100.1"],
    ["no header: the socket", "10.0.0.2", undefined, one, "10.0.0.2"],
    ["garbage where the client should be: the proxy", "10.0.0.2", "1.1.1.1, garbage", one, "10.0.0.2"],
    ["cidrs: walk left past trusted entries", "10.0.0.2", "6.6.6.6, 5.5.5.5, 10.3.3.3", cidrs, "5.5.5.5"],
    ["cidrs: untrusted socket ignores the header", "192.0.2.1", "5.5.5.5", cidrs, "192.0.2.1"],
    ["cidrs: all trusted, the leftmost", "::1", "10.1.1.1, 10.2.2.2", cidrs, "10.1.1.1"],
    ["cidrs: garbage stops the walk at the proxy that passed it", "10.0.0.2", "5.5.5.5, nope, 10.1.1.1", cidrs, "10.1.1.1"],
  ])("%s", (_name, socket, xff, trusted, expected) => {
    expect(clientAddress(socket, xff, trusted)).toBe(expected);
  });
});
