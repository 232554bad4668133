// Operators across instances (docs/operators.md): two Keyward servers on one database (SQLite file or
// PostgreSQL, per the run's backend), both with their verification caches on. A user disabled on A:
// B refuses their key on the very next request; enabled: B accepts it again. The same for a blocked
// OAuth client. The writes go through the operators' service, as the pages and the CLI make them.
import { afterAll, beforeAll, expect, it } from "vitest";
import { signUp, startSecondInstance, startTestServer, type Person, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { RunningServer } from "../src/server.js";
import { createOperators, type Operators } from "../src/admin/operators.js";
import { mcpStatus } from "./support/mcp-status.js";

let a: TestServer;
let b: RunningServer;
let operators: Operators;
let user: Person;
const CLI = { actor: { type: "cli" as const } };

beforeAll(async () => {
  a = await startTestServer();
  b = await startSecondInstance(a);
  operators = createOperators(a.services.db, a.services.audit);
  await signUp(a); // the administrator
  user = await signUp(a);
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.close();
});

it("a user disabled on A: B refuses every key of theirs on the very next request; enabled: B accepts it again", async () => {
  const userId = (await a.services.users.findByEmail(user.email))!.id;
  const raw = (await a.services.keys.mint({ userId, label: "both", source: "portal" }, BY_OPERATOR)).raw;
  // Both instances have the key's row in their caches.
  for (let i = 0; i < 3; i++) expect([await mcpStatus(a, raw), await mcpStatus(b, raw)]).toEqual([200, 200]);
  const events = async () =>
    (await a.services.db.$queryRaw<{ n: bigint | number }[]>`SELECT count(*) AS "n" FROM "KeyEvent" WHERE "kind" = 'changed'`)[0]!.n;
  const before = Number(await events());
  await operators.disable(user.email, CLI);
  expect(await mcpStatus(b, raw)).toBe(401);
  // Separate resource servers following the key-event stream hear of the change too (one event per active key).
  expect(Number(await events())).toBe(before + 1);
  expect(await mcpStatus(a, raw)).toBe(401);
  // Their browser sessions are gone (shared by every instance: rows of the database).
  expect(await a.services.db.session.count({ where: { userId } })).toBe(0);
  expect((await user.agent.get("/app/account/api-keys").redirects(0)).status).toBe(302);
  await operators.enable(user.email, CLI);
  expect(await mcpStatus(b, raw)).toBe(200);
  expect(await mcpStatus(a, raw)).toBe(200);
});

it("an OAuth client blocked on A: B refuses its keys on the very next request; unblocked: B accepts them again", async () => {
  const reg = await register(a, { client_name: "Across instances" });
  const clientId = reg.body.client_id as string;
  const owner = await signUp(a);
  const { code, verifier } = await authorizeWithPkce(owner.agent, a, { clientId, scope: "mcp:read" });
  const key = (await exchange(a, { clientId, code, verifier })).body.access_token as string;
  for (let i = 0; i < 3; i++) expect([await mcpStatus(a, key), await mcpStatus(b, key)]).toEqual([200, 200]);
  await operators.blockClient(clientId, CLI);
  expect(await mcpStatus(b, key)).toBe(401);
  // B refuses a new registration with the same metadata too.
  const again = await register(b, { client_name: "Across instances" });
  expect(again.body).toMatchObject({ error: "invalid_client_metadata" });
  await operators.unblockClient(clientId, CLI);
  expect(await mcpStatus(b, key)).toBe(200);
});
