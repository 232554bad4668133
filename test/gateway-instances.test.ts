// Two Keyward instances on one database (behind one balancer, one ISSUER): a resource added, changed
// or removed through one is what the other's gateway serves on its very next request, like a revoked key.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startSecondInstance, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { recordingUpstream, type RecordingUpstream } from "./support/upstreams.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { RunningServer } from "../src/server.js";

let a: TestServer;
let b: RunningServer;
let first: RecordingUpstream;
let second: RecordingUpstream;
let raw: string;
const BY = { actor: { type: "cli" as const } };

beforeAll(async () => {
  a = await startTestServer();
  b = await startSecondInstance(a);
  [first, second] = await Promise.all([recordingUpstream(), recordingUpstream()]);
  const user = await a.services.users.create(uniqueEmail("gwinst"), "correct horse battery");
  raw = (await a.services.keys.mint({ userId: user.id, label: "both", source: "portal" }, BY_OPERATOR)).raw;
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.close();
  await first?.close();
  await second?.close();
});

const list = (url: string) =>
  fetch(`${url}/mcp/shared`, {
    method: "POST",
    headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });

it("added on A → served by B at once; its upstream changed on A → B's next request goes to the new one; removed on A → 404 on B", async () => {
  expect((await list(b.url)).status).toBe(404); // unknown on B first (and not remembered as unknown)
  await a.services.resources.add({ slug: "shared", name: "Shared", upstream: first.url }, BY);
  expect((await list(b.url)).status).toBe(200);
  expect(first.received).toHaveLength(1);
  await a.services.resources.update("shared", { upstream: second.url }, BY);
  expect((await list(b.url)).status).toBe(200);
  expect(second.received).toHaveLength(1);
  expect(first.received).toHaveLength(1);
  await a.services.resources.remove("shared", BY);
  expect((await list(b.url)).status).toBe(404);
  expect((await list(a.url)).status).toBe(404);
});
