// Two Keyward processes on one PostgreSQL database behave as one server (issue: scale-out).
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { CookieClient, freePort, startInstance, type Instance } from "./support/processes.js";
import { pkcePair } from "./support/oauth/flow.js";

const onPostgres = inject("testBackend") === "postgresql";
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
const mcp = (url: string, key: string) =>
  fetch(`${url}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });

describe.skipIf(!onPostgres)("two instances on one PostgreSQL", () => {
  let database: TestDatabase;
  let a: Instance;
  let b: Instance;
  let apiKey: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const portA = await freePort();
    // Behind a balancer both instances share one public URL (the issuer).
    const env = {
      DATABASE_URL: database.url,
      ISSUER: `http://127.0.0.1:${portA}`,
      REGISTRATION_RATE_LIMIT: "5",
      LAST_USED_FLUSH_SECONDS: "3600",
    };
    [a, b] = await Promise.all([startInstance({ ...env, PORT: String(portA) }), startInstance(env)]);
  }, 90_000);

  afterAll(async () => {
    for (const i of [a, b]) if (i && i.child.exitCode === null) i.child.kill("SIGKILL");
    await database?.drop();
  });

  it("finishes on B an OAuth flow started on A, and the key works on both", async () => {
    const browser = new CookieClient();
    const reg = await fetch(`${a.url}/reg`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "Cross",
        redirect_uris: ["http://127.0.0.1:33418/callback"],
        token_endpoint_auth_method: "none",
      }),
    });
    const clientId = ((await reg.json()) as { client_id: string }).client_id;
    const signup = await browser.request(`${a.url}/signup`);
    const email = `cross${Date.now()}@example.com`;
    const signed = await browser.form(`${a.url}/signup`, { _csrf: csrfOf(await signup.text()), email, password: "correct horse battery" });
    expect(signed.status).toBe(303);
    // Sign-up does not log in (it must not tell whether the email was taken): log in on A.
    const login = await browser.request(`${a.url}/login`);
    const loggedIn = await browser.form(`${a.url}/login`, { _csrf: csrfOf(await login.text()), email, password: "correct horse battery" });
    expect(loggedIn.status).toBe(303);

    const pkce = pkcePair();
    const q = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: "http://127.0.0.1:33418/callback",
      code_challenge: pkce.challenge,
      code_challenge_method: "S256",
      scope: "mcp:read",
      state: "s",
    });
    // Every hop goes to the other instance.
    let res = await browser.request(`${a.url}/auth?${q}`);
    const hosts = [b.url, a.url];
    let hop = 0;
    let consent = "";
    while (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get("location")!, a.url);
      if (loc.port === "33418") break;
      res = await browser.request(`${hosts[hop++ % 2]}${loc.pathname}${loc.search}`);
      if (res.status === 200) consent = await res.text();
    }
    expect(consent).toContain("Allow");
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(consent)![1]!;
    res = await browser.form(`${b.url}/interaction/${uid}/confirm`, { _csrf: csrfOf(consent) });
    expect(res.status).toBe(303);
    while (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get("location")!, a.url);
      if (loc.port === "33418") break;
      res = await browser.request(`${hosts[hop++ % 2]}${loc.pathname}${loc.search}`);
    }
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    const token = await fetch(`${b.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        code_verifier: pkce.verifier,
        redirect_uri: "http://127.0.0.1:33418/callback",
        client_id: clientId,
      }),
    });
    expect(token.status).toBe(200);
    const key = ((await token.json()) as { access_token: string }).access_token;
    expect((await mcp(a.url, key)).status).toBe(200);
    expect((await mcp(b.url, key)).status).toBe(200);

    // A portal key minted on A through the JSON API with the browser session works on B.
    const page = await browser.request(`${a.url}/app/account/api-keys`);
    const csrf = csrfOf(await page.text());
    const minted = await browser.request(`${a.url}/api/api-keys`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ label: "load" }),
    });
    expect(minted.status).toBe(201);
    apiKey = ((await minted.json()) as { key: string }).key;
    expect((await mcp(b.url, apiKey)).status).toBe(200);
  });

  it("revoked on B, a key fails on A on the very next request", async () => {
    const minted = await fetch(`${a.url}/api/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "to revoke" }),
    });
    const { id, key } = (await minted.json()) as { id: string; key: string };
    expect((await mcp(a.url, key)).status).toBe(200);
    const del = await fetch(`${b.url}/api/api-keys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${apiKey}` } });
    expect(del.status).toBe(200);
    expect((await mcp(a.url, key)).status).toBe(401);
  });

  it("counts a rate limit hit on A on B too", async () => {
    const register = (url: string) =>
      fetch(`${url}/reg`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:1/cb"], token_endpoint_auth_method: "none" }),
      });
    // One registration already happened on A in the first test; the limit is 5 per hour per IP.
    const statuses = [];
    for (const url of [a.url, b.url, a.url, b.url, b.url, a.url]) statuses.push((await register(url)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
  });

  it("keeps serving on B when A is killed -9 under load, with no key lost or half-written", async () => {
    const ok: { key: string; id: string }[] = [];
    let failedOnA = 0;
    let failedOnB = 0;
    let sent = 0;
    const worker = async (n: number) => {
      for (let i = 0; i < 25; i++) {
        const target = (n + i) % 2 === 0 ? a.url : b.url;
        sent++;
        if (sent === 60) a.child.kill("SIGKILL");
        try {
          const res = await fetch(`${target}/api/api-keys`, {
            method: "POST",
            headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
            body: JSON.stringify({ label: `load ${n}-${i}` }),
          });
          if (res.status === 201) ok.push((await res.json()) as { key: string; id: string });
          else if (target === b.url) failedOnB++;
        } catch {
          if (target === a.url) failedOnA++;
          else failedOnB++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));
    expect(await a.exited).toBe(null); // killed by signal
    expect(failedOnB).toBe(0);
    expect(failedOnA).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThanOrEqual(100);

    // Every key whose creation was acknowledged exists, whole, and works on B.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const rows = await client.query<{ id: string; hash: string; last4: string; label: string }>(
      `SELECT id, hash, last4, label FROM "ApiKey" WHERE label LIKE 'load %'`,
    );
    await client.end();
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    for (const { id, key } of ok) {
      const row = byId.get(id);
      expect(row?.hash).toBe(createHash("sha256").update(key).digest("hex"));
      expect(row?.last4).toBe(key.slice(-4));
    }
    for (const row of rows.rows) expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    const sample = ok.filter((_, i) => i % 10 === 0);
    for (const { key } of sample) expect((await mcp(b.url, key)).status).toBe(200);
  }, 60_000);

  it("stops gracefully on SIGTERM: exit 0, last-used flushed (readiness while draining: test/shutdown.test.ts)", async () => {
    const c = await startInstance({
      DATABASE_URL: database.url,
      ISSUER: b.url,
      LAST_USED_FLUSH_SECONDS: "3600",
      PORT: String(await freePort()),
    });
    const minted = await fetch(`${c.url}/api/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "flush me" }),
    });
    const { id, key } = (await minted.json()) as { id: string; key: string };
    expect((await mcp(c.url, key)).status).toBe(200);
    c.child.kill("SIGTERM");
    expect(await c.exited).toBe(0);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const row = await client.query<{ lastUsedAt: Date | null }>(`SELECT "lastUsedAt" FROM "ApiKey" WHERE id = $1`, [id]);
    await client.end();
    expect(row.rows[0]?.lastUsedAt).toBeInstanceOf(Date);
  }, 60_000);
});

describe("health endpoints", () => {
  it("/healthz and /readyz answer on a running instance", async () => {
    const database = await createTestDatabase();
    const i = await startInstance({ DATABASE_URL: database.url });
    try {
      expect(await (await fetch(`${i.url}/healthz`)).json()).toEqual({ status: "ok" });
      const ready = await fetch(`${i.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });
    } finally {
      i.child.kill("SIGTERM");
      await i.exited;
      await database.drop();
    }
  }, 60_000);
});
