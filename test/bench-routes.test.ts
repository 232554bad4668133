// The benchmark routes (src/http/bench-routes.ts): absent unless BENCH_ROUTES=true; when on, the open
// route, the calibration probe and the key route answer as bench/ expects, and the key route is the
// production requireKey (401 without a key or with a mistyped one, 200 with a real one).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";

describe("benchmark routes", () => {
  let off: TestServer;
  let on: TestServer;
  beforeAll(async () => {
    [off, on] = await Promise.all([startTestServer(), startTestServer({ BENCH_ROUTES: "true" })]);
  });
  afterAll(async () => {
    await Promise.all([off?.close(), on?.close()]);
  });

  it("are not mounted by default", async () => {
    for (const path of ["/__bench/open", "/__bench/deferred", "/__bench/key", "/__bench/stats"]) await request(off.url).get(path).expect(404);
  });

  it("serve the same tiny JSON open, one event-loop phase later, and behind the key check", async () => {
    for (const path of ["/__bench/open", "/__bench/deferred"]) {
      const res = await request(on.url).get(path).expect(200);
      expect(res.body).toEqual({ ok: true });
      expect(res.headers["cache-control"]).toBe("no-store");
    }
    const { agent, csrf } = await signUp(on);
    const { raw } = await mintOnPage(agent, csrf, "bench");
    await request(on.url).get("/__bench/key").expect(401);
    expect((await request(on.url).get("/__bench/key").set("Authorization", `Bearer ${raw}`).expect(200)).body).toEqual({ ok: true });
    const stats = await request(on.url).get("/__bench/stats").expect(200);
    expect(stats.body.keyCache).toMatchObject({ misses: expect.any(Number), hits: expect.any(Number) });
    await request(on.url).get("/__bench/key").set("Authorization", `Bearer ${raw.slice(0, -1)}x`).expect(401);
  });
});
