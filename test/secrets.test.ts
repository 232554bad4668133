// After a full session of minting, using and revoking keys, no raw key is in the database file
// (nor its -wal/-shm/-journal) or in the server's logs; the database holds the SHA-256 hashes.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { hashKey } from "../src/keys/hash.js";
import { createLogger } from "../src/log.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const mcp = (headers: Record<string, string>) =>
  request(server.url)
    .post("/mcp")
    .set(headers)
    .set("Accept", "application/json, text/event-stream")
    .send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } });

describe("no raw key at rest or in the logs", () => {
  it("holds after minting (page + API), using and revoking", async () => {
    const raws: string[] = [];
    const { agent, csrf } = await signUp(server);
    const other = await signUp(server);
    const sessionToken = /kw_session=([^;]+)/.exec((await agent.get("/app/account/api-keys").expect(200)).request.cookies)![1]!;

    // minted on the page
    // (a key with explicit scopes manages keys only with keys:*, and mints only a subset of its own: issue 22)
    const pageKey = await mintOnPage(agent, csrf, "page key", ["mcp:read", "keys:write"]);
    raws.push(pageKey.raw);
    raws.push((await mintOnPage(other.agent, other.csrf, "other user's key")).raw);

    // minted through the API, with a key and with the session
    const viaKey = await request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${pageKey.raw}`)
      .send({ label: "api key", scopes: ["mcp:read", "keys:read"] })
      .expect(201);
    raws.push(viaKey.body.key as string);
    const viaSession = await agent
      .post("/api/api-keys")
      .set("X-CSRF-Token", csrf)
      .send({ name: "session key", scopes: "mcp:write keys:read" })
      .expect(201);
    raws.push(viaSession.body.key as string);

    // used: /mcp with both headers, the API, wrong/typo'd variants
    for (const raw of raws) {
      expect((await mcp({ Authorization: `Bearer ${raw}` })).status).toBe(200);
      expect((await mcp({ "X-API-Key": raw })).status).toBe(200);
      await request(server.url).get("/api/api-keys").set("X-API-Key", raw).expect(200);
      await request(server.url).get(`/api/api-keys?key=${raw}`).set("Authorization", `Bearer ${raw}`).expect(200);
    }
    expect((await mcp({ Authorization: `Bearer ${raws[0]}x` })).status).toBe(401);
    expect((await mcp({ Authorization: `Basic ${raws[0]}` })).status).toBe(400);
    // a key sent where none belongs (as a password, in a label)
    await request(server.url).get(`/login?return_to=/x?k=${raws[1]}`).expect(200);

    // revoked: on the page and through the API, then used again
    const pageId = (viaKey.body as { id: string }).id;
    await agent.post(`/app/account/api-keys/${pageId}/revoke`).type("form").send({ _csrf: csrf }).expect(303);
    await request(server.url)
      .delete(`/api/api-keys/${(viaSession.body as { id: string }).id}`)
      .set("Authorization", `Bearer ${raws[0]}`)
      .expect(200);
    expect((await mcp({ Authorization: `Bearer ${raws[2]}` })).status).toBe(401);
    expect((await mcp({ "X-API-Key": raws[3]! })).status).toBe(401);

    // flush last-used and close the database, so everything is on disk
    const hashes = raws.map(hashKey);
    await server.stop();

    const bytes = await server.database.contents();
    const logs = server.logs.join("");
    expect(server.logs.length).toBeGreaterThan(20);
    expect(logs).toContain('"path":"/mcp"');
    expect(logs).toContain('"path":"/api/api-keys"');
    for (const raw of raws) {
      const secret = raw.slice("kw_user_".length, "kw_user_".length + 43);
      expect(bytes.includes(Buffer.from(raw)), "raw key in the database").toBe(false);
      expect(bytes.includes(Buffer.from(secret)), "key secret in the database").toBe(false);
      expect(logs.includes(secret), "key secret in the logs").toBe(false);
      expect(bytes.includes(Buffer.from(raw.slice(-4))), "last 4 in the database").toBe(true);
    }
    for (const hash of hashes) expect(bytes.includes(Buffer.from(hash)), `hash ${hash} in the database`).toBe(true);
    // browser sessions are stored by SHA-256 too, and never logged
    expect(sessionToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bytes.includes(Buffer.from(sessionToken)), "session token in the database").toBe(false);
    expect(bytes.includes(Buffer.from(hashKey(sessionToken))), "session digest in the database").toBe(true);
    expect(logs.includes(sessionToken), "session token in the logs").toBe(false);
    // the stored hash is exactly the SHA-256 of the key
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the logger redacts credentials should a request ever be logged", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger("info", sink);
    logger.info(
      { req: { headers: { authorization: "Bearer kw_user_SECRET", "x-api-key": "kw_user_SECRET2", cookie: "kw_session=abc" } } },
      "request",
    );
    logger.info({ body: { password: "hunter22", key: "kw_user_SECRET3" } }, "body");
    const out = lines.join("");
    expect(out).not.toMatch(/SECRET|hunter22|kw_session=abc/);
    expect(out.match(/\[redacted\]/g)).toHaveLength(5);
  });
});
