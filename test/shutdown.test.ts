// SIGTERM on a real Keyward process, on the backend of this run (SQLite or PostgreSQL): for
// SHUTDOWN_DRAIN_SECONDS it keeps serving while /readyz answers 503 "stopping" (so a balancer moves
// on) and every response closes its connection; then it stops listening, closes idle keep-alive
// sockets, exits 0 and has written the last-used times it held in memory.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import Database from "better-sqlite3";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { CookieClient, startInstance, type Instance } from "./support/processes.js";
import { ConfigError, loadConfig } from "../src/config.js";

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

// Long enough for the requests below to be sent during the drain on a loaded machine.
const DRAIN_SECONDS = 3;

let database: TestDatabase;
let instance: Instance;
beforeAll(async () => {
  database = await createTestDatabase();
  // Last-used times are held for an hour: only the shutdown flush can write them during this test.
  instance = await startInstance({
    DATABASE_URL: database.url,
    LAST_USED_FLUSH_SECONDS: "3600",
    SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
  });
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
  const conn = await connect(url);
  conn.socket.write(head);
  return {
    async finish(rest: string) {
      conn.socket.write(rest);
      return conn.next();
    },
  };
}

interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/**
 * A raw HTTP/1.1 connection kept open between requests (keep-alive), as a balancer or a client
 * library holds one. `next()` reads one whole response (Content-Length, chunked, or up to the close).
 */
async function connect(url: string) {
  const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let buffer = "";
  let ended = false;
  let error: Error | undefined;
  let wake = () => {};
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => {
    buffer += d;
    wake();
  });
  socket.on("error", (err) => {
    error = err;
    wake();
  });
  const closed = new Promise<{ error?: Error }>((resolve) =>
    socket.once("close", () => {
      ended = true;
      wake();
      resolve({ error });
    }),
  );
  /** One complete response off the front of the buffer, if it has arrived. */
  const take = (): RawResponse | undefined => {
    const split = buffer.indexOf("\r\n\r\n");
    if (split < 0) return undefined;
    const headers = buffer.slice(0, split);
    const rest = buffer.slice(split + 4);
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1]);
    const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
    if (length) {
      if (rest.length < Number(length[1])) return undefined;
      buffer = rest.slice(Number(length[1]));
      return { status, headers, body: rest.slice(0, Number(length[1])) };
    }
    if (/\r\ntransfer-encoding: *chunked/i.test(headers)) {
      let body = "";
      let at = 0;
      for (;;) {
        const line = rest.indexOf("\r\n", at);
        if (line < 0) return undefined;
        const size = parseInt(rest.slice(at, line), 16);
        if (rest.length < line + 2 + size + 2) return undefined;
        if (size === 0) {
          buffer = rest.slice(line + 4);
          return { status, headers, body };
        }
        body += rest.slice(line + 2, line + 2 + size);
        at = line + 2 + size + 2;
      }
    }
    if (!ended) return undefined;
    buffer = "";
    return { status, headers, body: rest };
  };
  return {
    socket,
    closed,
    async next(): Promise<RawResponse> {
      for (;;) {
        const response = take();
        if (response) return response;
        if (ended || error)
          throw new Error(
            `connection ${error ? `failed (${error.message})` : "closed"} before a whole response; received: ${JSON.stringify(buffer)}`,
          );
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    send(request: string): Promise<RawResponse> {
      socket.write(request);
      return this.next();
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

const toolsCall = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } });
const mcpRequest = (key: string) =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(toolsCall)}\r\n\r\n${toolsCall}`;

describe(`SIGTERM on ${inject("testBackend")}`, () => {
  it("drains: /readyz 503 stopping while requests are still served (a keep-alive request gets its whole answer, Connection: close), then stops listening, closes idle sockets, exits 0 and flushes last-used", async () => {
    const browser = new CookieClient();
    const signup = await browser.request(`${instance.url}/signup`);
    const email = `shutdown${Date.now()}@example.com`;
    expect(
      (await browser.form(`${instance.url}/signup`, { _csrf: csrfOf(await signup.text()), email, password: "correct horse battery" }))
        .status,
    ).toBe(303);
    const login = await browser.request(`${instance.url}/login`); // sign-up does not log in
    expect(
      (await browser.form(`${instance.url}/login`, { _csrf: csrfOf(await login.text()), email, password: "correct horse battery" })).status,
    ).toBe(303);
    const page = await browser.request(`${instance.url}/app/account/api-keys`);
    // The mint answers 303 to its one-time reveal page.
    const mint = await browser.form(`${instance.url}/app/account/api-keys`, { _csrf: csrfOf(await page.text()), label: "flush me" });
    expect(mint.status).toBe(303);
    const minted = await (await browser.request(new URL(mint.headers.get("location")!, instance.url).href)).text();
    const key = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(minted)![1]!;
    const id = /data-key-id="(key_[^"]+)"/.exec(minted)![1]!;

    // A client on a keep-alive connection: one request answered before the signal, the next sent during the drain.
    const kept = await connect(instance.url);
    const before = await kept.send(mcpRequest(key));
    expect(before.status).toBe(200);
    expect(before.headers).toMatch(/\r\nconnection: keep-alive/i);
    expect(await lastUsedAt(id)).toBeNull(); // held in memory, not yet written
    // A keep-alive connection that stays idle through the drain.
    const idle = await connect(instance.url);
    expect((await idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")).status).toBe(200);
    // A balancer's health check that is on the wire when the signal arrives.
    const probe = await begunRequest(instance.url, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n");

    const signalled = Date.now();
    instance.child.kill("SIGTERM");
    // The next health check (a new connection) is answered, not refused: 503 stopping, so the balancer moves on.
    let ready: Response;
    for (;;) {
      ready = await fetch(`${instance.url}/readyz`); // throws if the listener is already closed
      if (ready.status !== 200 || Date.now() - signalled > 5_000) break;
      await ready.arrayBuffer();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ready.status).toBe(503);
    expect(ready.headers.get("retry-after")).toBe("5");
    expect(await ready.json()).toEqual({ status: "stopping" });
    expect((await probe.finish("\r\n")).body).toBe(JSON.stringify({ status: "stopping" }));

    // The keep-alive client's next request is served in full, and it is told to reconnect.
    const during = await kept.send(mcpRequest(key));
    expect(during.status).toBe(200);
    expect(during.headers).toMatch(/\r\nconnection: close/i);
    expect(during.body).toContain('"result"');
    expect(during.body).toContain(email);
    expect(await kept.closed).toEqual({ error: undefined });

    // After the drain: no new connections, the idle one closed politely (no reset), exit 0, last-used written.
    const deadline = Date.now() + 15_000;
    while (!(await refusesConnections(instance.url))) {
      if (Date.now() > deadline) throw new Error("the instance kept accepting connections long after the drain");
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000 - 100);
    expect(await idle.closed).toEqual({ error: undefined });
    expect(await instance.exited).toBe(0);
    expect(await lastUsedAt(id)).not.toBeNull();
  }, 60_000);

  it("SHUTDOWN_DRAIN_SECONDS: 5 by default, 0 turns the drain off, a negative or non-numeric value is refused", () => {
    expect(loadConfig({}).shutdownDrainMs).toBe(5000);
    expect(loadConfig({ SHUTDOWN_DRAIN_SECONDS: "0" }).shutdownDrainMs).toBe(0);
    expect(loadConfig({ SHUTDOWN_DRAIN_SECONDS: "0.5" }).shutdownDrainMs).toBe(500);
    for (const bad of ["-1", "soon", "301"]) expect(() => loadConfig({ SHUTDOWN_DRAIN_SECONDS: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_SECONDS: "-1" })).toThrow(/SHUTDOWN_DRAIN_SECONDS/);
  });
});
