// The OpenAPI document at /api/openapi.json, held to the code: every route the /api routers register
// is documented (method and path) and every documented operation is served (a request to it gets
// anything but the catch-all 404); real responses validate against the document's schemas.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { z } from "zod";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";
import { apiKeysApi } from "../src/api/api-keys.js";
import { orgsApi } from "../src/api/orgs.js";
import { openApiDocument } from "../src/api/openapi.js";

type Json = Record<string, unknown>;

let server: TestServer;
let raw: string;

beforeAll(async () => {
  // Secret scanning configured, so that its documented endpoint is served.
  server = await startTestServer({ SECRET_SCANNING_SECRET: "s".repeat(40) });
  const user = await server.services.users.create(uniqueEmail("openapi"), "correct horse battery");
  raw = (await server.services.keys.mint({ userId: user.id, label: "openapi", source: "portal", scopes: [] }, BY_OPERATOR)).raw;
});
afterAll(async () => {
  await server?.close();
});

const doc = openApiDocument as unknown as { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };
const CATCH_ALL = { error: "not_found", error_description: "There is nothing at this address." };
const METHODS = ["get", "post", "put", "patch", "delete"];

/** Every `METHOD /path` the document describes, with {param} as in the document. */
const documented = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );

/** Every `METHOD /path` the JSON API's routers register, `:param` written `{param}`. */
function registered(): string[] {
  const routes = new Set<string>();
  for (const router of [apiKeysApi(server.services), orgsApi(server.services)]) {
    for (const layer of router.stack) {
      for (const method of layer.methods) {
        if (method === "HEAD") continue; // Koa's router answers HEAD with GET
        const path = String(layer.path)
          .replace(/\/$/, "")
          .replace(/:(\w+)/g, "{$1}");
        routes.add(`${method} ${path}`);
      }
    }
  }
  return [...routes].sort();
}

/** The schema with every #/components/schemas/ reference replaced by what it names (the document has no cycles). */
function resolve(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(resolve);
  if (!schema || typeof schema !== "object") return schema;
  const ref = (schema as Json).$ref;
  if (typeof ref === "string") return resolve(doc.components.schemas[ref.replace("#/components/schemas/", "")]);
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolve(v)]));
}

/** The zod check of an operation's answer with this status (application/json). */
function responseSchema(method: string, path: string, status: number) {
  const responses = doc.paths[path]![method]!.responses as Record<string, { content: Record<string, { schema: unknown }> }>;
  const schema = responses[String(status)]?.content["application/json"]?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} documents no ${status} JSON answer`);
  return z.fromJSONSchema(resolve(schema) as Parameters<typeof z.fromJSONSchema>[0]);
}

function expectValid(method: string, path: string, res: { status: number; body: unknown }) {
  const parsed = responseSchema(method, path, res.status).safeParse(res.body);
  expect(parsed.success, `${method} ${path} ${res.status}: ${parsed.error?.message}`).toBe(true);
}

describe("the document", () => {
  it("is served at /api/openapi.json, public, as OpenAPI 3.1", async () => {
    const res = await request(server.url).get("/api/openapi.json").expect(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ openapi: "3.1.0", info: { title: "Keyward JSON API" } });
    expect(res.body).toEqual(JSON.parse(JSON.stringify(openApiDocument)));
    expect((await request(server.url).post("/api/openapi.json")).status).toBe(405);
  });

  it("documents every route the /api routers register", () => {
    const docs = new Set(documented());
    const missing = registered().filter((route) => !docs.has(route));
    expect(missing).toEqual([]);
    expect(registered().length).toBeGreaterThan(25);
  });

  it("documents nothing that is not served: each operation answers something other than the catch-all 404", async () => {
    const routes = new Set(registered());
    const others: string[] = [];
    for (const route of documented()) {
      if (!routes.has(route)) others.push(route); // served by a middleware of its own (secret scanning, events, this document)
      const [method, path] = route.split(" ") as [string, string];
      const concrete = path.replace(/\{\w+\}/g, "x1");
      const res = await request(server.url)
        [method.toLowerCase() as "get"](concrete)
        .set("Accept", "application/json")
        .buffer(true)
        .timeout(5000)
        .catch((err: { response?: request.Response }) => err.response!);
      expect([route, res.status === 404 && JSON.stringify(res.body) === JSON.stringify(CATCH_ALL)]).toEqual([route, false]);
    }
    expect(others.sort()).toEqual(["GET /api/openapi.json", "GET /api/resources/{slug}/events", "POST /api/secret-scanning/report"]);
    // And the check can fail: a path nobody serves gets the catch-all.
    expect((await request(server.url).get("/api/nothing-here").set("Accept", "application/json")).body).toEqual(CATCH_ALL);
  });
});

describe("real responses match the schemas", () => {
  const api = () => ({
    get: (path: string) => request(server.url).get(path).set("Authorization", `Bearer ${raw}`),
    post: (path: string, body: object) => request(server.url).post(path).set("Authorization", `Bearer ${raw}`).send(body),
  });

  it("mint, list, read, roll and revoke a key; the errors", async () => {
    const minted = await api().post("/api/api-keys", { label: "from the document", expires: "30d" });
    expect(minted.status).toBe(201);
    expectValid("post", "/api/api-keys", minted);
    const id = (minted.body as { id: string }).id;

    const page = await api().get("/api/api-keys?limit=2");
    expect(page.status).toBe(200);
    expectValid("get", "/api/api-keys", page);

    const one = await api().get(`/api/api-keys/${id}`);
    expectValid("get", "/api/api-keys/{id}", one);
    const usage = await api().get(`/api/api-keys/${id}/usage`);
    expectValid("get", "/api/api-keys/{id}/usage", usage);

    const rolled = await api().post(`/api/api-keys/${id}/roll`, { overlap: "1h" });
    expect(rolled.status).toBe(201);
    expectValid("post", "/api/api-keys/{id}/roll", rolled);

    const revoked = await request(server.url).delete(`/api/api-keys/${id}`).set("Authorization", `Bearer ${raw}`);
    expect(revoked.status).toBe(200);
    expectValid("delete", "/api/api-keys/{id}", revoked);

    const missing = await api().get("/api/api-keys/key_missing");
    expect(missing.status).toBe(404);
    expectValid("get", "/api/api-keys/{id}", missing);
    const unauthenticated = await request(server.url).get("/api/api-keys");
    expect(unauthenticated.status).toBe(401);
    expectValid("get", "/api/api-keys", unauthenticated);
    const invalid = await api().post("/api/api-keys", { label: "x", unknown: 1 });
    expect(invalid.status).toBe(400);
    expectValid("post", "/api/api-keys", invalid);
  });

  it("organisations", async () => {
    const orgs = await api().get("/api/orgs");
    expect(orgs.status).toBe(200);
    expectValid("get", "/api/orgs", orgs);
    const created = await api().post("/api/orgs", { name: "Documented" });
    expect(created.status).toBe(201);
    expectValid("post", "/api/orgs", created);
  });

  it("the schemas are strict enough to fail: a key without its id, an error without its description", () => {
    expect(responseSchema("get", "/api/api-keys/{id}", 200).safeParse({ label: "x", status: "active" }).success).toBe(false);
    expect(responseSchema("get", "/api/api-keys/{id}", 200).safeParse({ status: "gone" }).success).toBe(false);
    expect(responseSchema("get", "/api/api-keys/{id}", 404).safeParse({ error: "not_found" }).success).toBe(false);
  });
});
