// The database going away mid-flight: clean 503 + Retry-After everywhere, no partial rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import pg from "pg";
import request from "supertest";
import { isDatabaseUnavailable } from "../src/db/unavailable.js";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./support/server.js";

describe("isDatabaseUnavailable", () => {
  it("recognises outages and nothing else", () => {
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P1001" }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { cause: { kind: "DatabaseNotReachable" } }))).toBe(true);
    expect(
      isDatabaseUnavailable(
        Object.assign(new Error("x"), { cause: { kind: "postgres", code: "57P01", message: "terminating connection" } }),
      ),
    ).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { cause: { kind: "sqlite", extendedCode: 5 } }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { cause: Object.assign(new Error("y"), { code: "ECONNREFUSED" }) }))).toBe(
      true,
    );
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P2002" }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { cause: { kind: "UniqueConstraintViolation" } }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("undefined is not a function"))).toBe(false);
  });
});

describe.skipIf(inject("testBackend") !== "postgresql")("PostgreSQL unavailable mid-request", () => {
  let server: TestServer;
  let admin: pg.Client;
  let dbName: string;

  beforeAll(async () => {
    server = await startTestServer();
    dbName = new URL(server.database.url).pathname.slice(1);
    admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.end();
    await server?.close();
  });

  it("answers 503 with Retry-After, OAuth- and JSON-shaped, and writes nothing", async () => {
    const { agent, csrf } = await signUp(server);
    const { raw } = await mintOnPage(agent, csrf, "before the outage");
    const before = await server.services.db.apiKey.count();

    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);

    const mcp = await request(server.url)
      .post("/mcp")
      .set("Authorization", `Bearer ${raw}`)
      .set("Accept", "application/json, text/event-stream")
      .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(mcp.status).toBe(503);
    expect(mcp.headers["retry-after"]).toBe("5");
    expect(mcp.body.error).toBe("temporarily_unavailable");

    const mint = await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${raw}`).send({ label: "during the outage" });
    expect(mint.status).toBe(503);
    expect(mint.text).not.toMatch(/at .*\.ts:\d+/); // no stack trace

    const reg = await request(server.url)
      .post("/reg")
      .send({ redirect_uris: ["http://127.0.0.1:1/cb"], token_endpoint_auth_method: "none" });
    expect(reg.status).toBe(503);
    expect(reg.body.error).toBe("temporarily_unavailable");

    const page = await agent.get("/app/account/api-keys");
    expect(page.status).toBe(503);
    expect(page.headers["content-type"]).toMatch(/html/);

    const ready = await request(server.url).get("/readyz");
    expect(ready.status).toBe(503);

    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    expect(await server.services.db.apiKey.count()).toBe(before);
    expect(
      (
        await request(server.url)
          .post("/mcp")
          .set("Authorization", `Bearer ${raw}`)
          .set("Accept", "application/json, text/event-stream")
          .send({ jsonrpc: "2.0", id: 1, method: "tools/list" })
      ).status,
    ).toBe(200);
  });
});
