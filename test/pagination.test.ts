// A user with many keys gets them a page at a time, on the account page and in the JSON API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";

let server: TestServer;
let session: Awaited<ReturnType<typeof signUp>>;
let key: string;
const TOTAL = 123;

beforeAll(async () => {
  server = await startTestServer();
  session = await signUp(server);
  key = (await mintOnPage(session.agent, session.csrf, "the api key")).raw;
  const user = (await server.services.users.findByEmail(session.email))!;
  for (let i = 0; i < TOTAL - 1; i++)
    await server.services.keys.mint({ userId: user.id, label: `bulk ${String(i).padStart(3, "0")}`, source: "portal" }, BY_OPERATOR);
});
afterAll(async () => server?.close());

const rowsIn = (html: string) => html.match(/<tr class="[^"]*" data-key-id="/g)?.length ?? 0;

describe("pagination", () => {
  it("the account page shows 50 keys and walks to older ones without repeats", async () => {
    const seen = new Set<string>();
    let html = (await session.agent.get("/app/account/api-keys").expect(200)).text;
    expect(html).not.toContain("← Newest keys");
    for (let pageNo = 0; pageNo < 10; pageNo++) {
      const ids = [...html.matchAll(/data-key-id="([^"]+)"/g)].map((m) => m[1]!);
      expect(ids.length).toBe(rowsIn(html));
      expect(ids.length).toBeLessThanOrEqual(50);
      for (const id of ids) {
        expect(seen.has(id), `repeated ${id}`).toBe(false);
        seen.add(id);
      }
      const next = /href="\/app\/account\/api-keys\?cursor=([^"]+)">Older keys/.exec(html);
      if (!next) break;
      html = (await session.agent.get(`/app/account/api-keys?cursor=${next[1]}`).expect(200)).text;
      expect(html).toContain("← Newest keys");
    }
    expect(seen.size).toBe(TOTAL);
    // a cursor we did not make starts again from the newest
    const bogus = await session.agent.get("/app/account/api-keys?cursor=not-a-cursor").expect(200);
    expect(rowsIn(bogus.text)).toBe(50);
  });

  it("the JSON API pages with limit and next_cursor; a bad cursor or limit is 400", async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(server.url)
        .get(`/api/api-keys?limit=40${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)
        .set("Authorization", `Bearer ${key}`)
        .expect(200);
      expect(res.body.data.length).toBeLessThanOrEqual(40);
      all.push(...res.body.data.map((k: { id: string }) => k.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(all.length).toBe(TOTAL);
    expect(new Set(all).size).toBe(TOTAL);
    const first = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${key}`).expect(200);
    expect(first.body.data).toHaveLength(100);
    expect(first.body.data[0].label).toBe("bulk 121"); // newest first
    for (const q of ["cursor=nope", "limit=0", "limit=501", "limit=abc"]) {
      const bad = await request(server.url).get(`/api/api-keys?${q}`).set("Authorization", `Bearer ${key}`);
      expect(bad.status, q).toBe(400);
      expect(bad.body.error).toBe("invalid_request");
    }
  });
});
