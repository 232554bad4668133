// Who becomes the instance administrator without anyone granting it (docs/operators.md): the first
// account of a fresh instance (sign-up page or `keyward users create`), and, on an instance upgraded
// with accounts already, the oldest one (migration 0024's UPDATE, run here on such a database).
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { openTestDb, makeUser, type TestDb } from "./support/test-db.js";
import { claimFirstAdmin, createUsers } from "../src/accounts/users.js";
import { inject } from "vitest";

let t: TestDb | undefined;
afterEach(async () => t?.close());

it("the first account created is the administrator; later ones are not", async () => {
  t = await openTestDb();
  const users = createUsers(t.db);
  const [first, second] = [
    await users.create("first@example.com", "correct horse battery"),
    await users.create("second@example.com", "correct horse battery"),
  ];
  const admins = await t.db.user.findMany({ where: { isAdmin: true }, select: { id: true } });
  expect(admins.map((a) => a.id)).toEqual([first.id]);
  expect(second.id).not.toBe(first.id);
});

it("with an administrator gone (role removed by hand), the next account becomes one: the CLI never removes the last", async () => {
  t = await openTestDb();
  const users = createUsers(t.db);
  await users.create("a@example.com", "correct horse battery");
  await t.db.user.updateMany({ data: { isAdmin: false } });
  const next = await users.create("b@example.com", "correct horse battery");
  expect((await t.db.user.findUniqueOrThrow({ where: { id: next.id } })).isAdmin).toBe(true);
});

// PostgreSQL runs these claims side by side on its pool; each statement alone would see no
// administrator in its own snapshot. SQLite writes one at a time: the same rule, checked there too.
it("simultaneous first sign-ups make exactly one administrator", async () => {
  t = await openTestDb();
  const users = createUsers(t.db);
  const made = await Promise.all(Array.from({ length: 6 }, (_, i) => users.create(`racer${i}@example.com`, "correct horse battery")));
  const admins = await t.db.user.findMany({ where: { isAdmin: true }, select: { id: true } });
  expect(admins).toHaveLength(1);
  expect(made.map((u) => u.id)).toContain(admins[0]!.id);
});

it("simultaneous claims on an instance without an administrator: exactly one wins, round after round", async () => {
  t = await openTestDb();
  const db = t.db;
  const people = await Promise.all(Array.from({ length: 8 }, () => makeUser(db)));
  for (let round = 0; round < 5; round++) {
    await db.user.updateMany({ data: { isAdmin: false } });
    await Promise.all(people.map((p) => claimFirstAdmin(db, p.id)));
    expect(await db.user.count({ where: { isAdmin: true } })).toBe(1);
  }
});

it("migration 0024 makes the oldest account of an upgraded instance its administrator, and only it", async () => {
  t = await openTestDb();
  const older = await makeUser(t.db);
  await t.db.user.update({ where: { id: older.id }, data: { createdAt: new Date("2020-01-01T00:00:00Z") } });
  const newer = await makeUser(t.db);
  await t.db.user.updateMany({ data: { isAdmin: false } });
  const backend = inject("testBackend") === "postgresql" ? "postgresql" : "sqlite";
  const sql = readFileSync(path.join("prisma", backend, "migrations", "0024_operator", "migration.sql"), "utf8");
  const update = sql.split("\n").find((line) => line.startsWith('UPDATE "User"'))!;
  await t.db.$executeRawUnsafe(update.replace(/;$/, ""));
  const admins = await t.db.user.findMany({ where: { isAdmin: true }, select: { id: true } });
  expect(admins.map((a) => a.id)).toEqual([older.id]);
  expect(newer.id).not.toBe(older.id);
});
