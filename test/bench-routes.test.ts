// The benchmark routes (bench/routes.ts) exist only in the benchmark's own server (bench/serve.ts):
// the production app has none, whatever the environment says; the benchmark's server answers the open
// route, the calibration probe and the key route as bench/ expects, and its key route is the production
// requireKey (401 without a key or with a mistyped one, 200 with a real one).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { startInstance, type Instance } from "./support/processes.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";

const ROUTES = ["/__bench/open", "/__bench/deferred", "/__bench/key", "/__bench/stats"];

describe("benchmark routes", () => {
  let production: TestServer;
  let database: TestDatabase;
  let bench: Instance;
  beforeAll(async () => {
    database = await createTestDatabase();
    [production, bench] = await Promise.all([
      startTestServer({ BENCH_ROUTES: "true" }), // the setting that used to mount them
      startInstance({ DATABASE_URL: database.url }, { args: ["--import", "tsx", "bench/serve.ts"], readyMs: 60_000 }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([production?.close(), bench?.stop()]);
    await database?.drop();
  });

  it("do not exist in the production app", async () => {
    for (const path of ROUTES) await request(production.url).get(path).expect(404);
  });

  it("serve the same tiny JSON open, one event-loop phase later, and behind the key check in the benchmark's server", async () => {
    for (const path of ["/__bench/open", "/__bench/deferred"]) {
      const res = await request(bench.url).get(path).expect(200);
      expect(res.body).toEqual({ ok: true });
      expect(res.headers["cache-control"]).toBe("no-store");
    }
    const { agent, csrf } = await signUp(bench);
    const { raw } = await mintOnPage(agent, csrf, "bench");
    await request(bench.url).get("/__bench/key").expect(401);
    expect((await request(bench.url).get("/__bench/key").set("Authorization", `Bearer ${raw}`).expect(200)).body).toEqual({ ok: true });
    const stats = await request(bench.url).get("/__bench/stats").expect(200);
    expect(stats.body.keyCache).toMatchObject({ misses: expect.any(Number), hits: expect.any(Number) });
    await request(bench.url)
      .get("/__bench/key")
      .set("Authorization", `Bearer ${raw.slice(0, -1)}${raw.endsWith("x") ? "y" : "x"}`) // a typo, never the key itself
      .expect(401);
  });
});
