// SIGTERM on a real Keyward process, on the backend of this run (SQLite or PostgreSQL): while it
// drains, /readyz answers 503 "stopping" so a balancer moves on; it exits 0 and has written the
// last-used times it held in memory.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import Database from "better-sqlite3";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { CookieClient, startInstance, type Instance } from "./processes.js";

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

let database: TestDatabase;
let instance: Instance;
beforeAll(async () => {
  database = await createTestDatabase();
  // Last-used times are held for an hour: only the shutdown flush can write them during this test.
  instance = await startInstance({ DATABASE_URL: database.url, LAST_USED_FLUSH_SECONDS: "3600" });
}, 60_000);
afterAll(async () => {
  if (instance && instance.child.exitCode === null) instance.child.kill("SIGKILL");
  await database?.drop();
});

async function lastUsedAt(id: string): Promise<unknown> {
  if (database.backend === "sqlite") {
    const db = new Database(database.file!, { readonly: true });
    try {
      return (db.prepare(`SELECT "lastUsedAt" FROM "ApiKey" WHERE id = ?`).get(id) as { lastUsedAt: unknown }).lastUsedAt;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<{ lastUsedAt: unknown }>(`SELECT "lastUsedAt" FROM "ApiKey" WHERE id = $1`, [id])).rows[0]?.lastUsedAt;
  } finally {
    await client.end();
  }
}

/** A connection whose request has begun (so shutdown waits for it) but is not finished yet. */
async function begunRequest(url: string, head: string) {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  socket.on("data", (d) => (received += String(d)));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(head);
  return {
    async finish(rest: string) {
      socket.write(rest);
      await closed;
      const [headers, body] = received.split("\r\n\r\n");
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers!)?.[1]), headers: headers!, body: body! };
    },
  };
}

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch {
    return true;
  }
}

describe(`SIGTERM on ${inject("testBackend")}`, () => {
  it("drains with /readyz 503 stopping, exits 0 and flushes last-used", async () => {
    const browser = new CookieClient();
    const signup = await browser.request(`${instance.url}/signup`);
    const email = `shutdown${Date.now()}@example.com`;
    expect((await browser.form(`${instance.url}/signup`, { _csrf: csrfOf(await signup.text()), email, password: "correct horse battery" })).status).toBe(303);
    const login = await browser.request(`${instance.url}/login`); // sign-up does not log in
    expect((await browser.form(`${instance.url}/login`, { _csrf: csrfOf(await login.text()), email, password: "correct horse battery" })).status).toBe(303);
    const page = await browser.request(`${instance.url}/app/account/api-keys`);
    const minted = await (await browser.form(`${instance.url}/app/account/api-keys`, { _csrf: csrfOf(await page.text()), label: "flush me" })).text();
    const key = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(minted)![1]!;
    const id = /data-key-id="(key_[^"]+)"/.exec(minted)![1]!;

    const used = await fetch(`${instance.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    expect(used.status).toBe(200);
    expect(await lastUsedAt(id)).toBeNull(); // held in memory, not yet written

    // A balancer's health check that is on the wire when the signal arrives.
    const probe = await begunRequest(instance.url, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    instance.child.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while (!(await refusesConnections(instance.url))) {
      if (Date.now() > deadline) throw new Error("the instance kept accepting connections after SIGTERM");
      await new Promise((r) => setTimeout(r, 25));
    }
    const ready = await probe.finish("Connection: close\r\n\r\n");
    expect(ready.status).toBe(503);
    expect(ready.headers).toMatch(/\r\nretry-after: 5\r\n/i);
    expect(JSON.parse(ready.body)).toEqual({ status: "stopping" });

    expect(await instance.exited).toBe(0);
    expect(await lastUsedAt(id)).not.toBeNull();
  }, 60_000);
});
