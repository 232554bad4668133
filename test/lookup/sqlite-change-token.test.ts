// SQLite's change token (src/keys/lookup/sqlite-change-token.ts): read once per event-loop turn, it
// moves on every commit to the file, whichever process made it.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import Database from "better-sqlite3";
import { oncePerTurn, sqliteChangeToken } from "../../src/keys/lookup/sqlite-change-token.js";
import { openKeyLookup } from "../../src/keys/lookup/index.js";
import { createKeys } from "../../src/keys/index.js";
import { makeUser, openTestDb, type TestDb } from "../support/test-db.js";
import { BY_OPERATOR } from "../support/acting.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

describe("oncePerTurn()", () => {
  it("callers of one turn share one read, made after the last of them asked", async () => {
    let token = 1;
    let reads = 0;
    const read = oncePerTurn(() => {
      reads++;
      return token;
    });
    const a = read();
    token = 2; // a commit between two requests of the same turn...
    const b = read();
    expect(reads).toBe(0); // nothing read yet: the read waits for the turn's check phase
    expect([await a, await b]).toEqual([2, 2]); // ...is seen by both: no answer older than its caller
    expect(reads).toBe(1);
    token = 3;
    expect(await read()).toBe(3); // a caller after the read ran gets a read of its own
    expect(reads).toBe(2);
  });

  it("a failed read fails the callers of its turn, and the next turn reads again", async () => {
    let fail = true;
    const read = oncePerTurn(() => {
      if (fail) throw new Error("file gone");
      return 7;
    });
    const both = [read(), read()];
    await expect(both[0]).rejects.toThrow("file gone");
    await expect(both[1]).rejects.toThrow("file gone");
    fail = false;
    expect(await read()).toBe(7);
  });
});

// SQLite's change check reads the WAL-index header (src/keys/lookup/sqlite-change-token.ts). These pin that it
// sees commits from another process, as the CLI makes them, and that a file outside WAL mode falls
// back to PRAGMA data_version with the same guarantee.
describe("SQLite change check", () => {
  /** A database of its own (its journal mode gets changed); SQLite runs only. */
  async function onOwnSqliteDb(test: { skip: () => void }, fn: (t: TestDb, file: string) => Promise<void>) {
    const t = await openTestDb();
    try {
      if (!t.url.startsWith("file:")) return test.skip();
      await fn(t, t.url.slice("file:".length));
    } finally {
      await t.close();
    }
  }

  /** Runs SQL in a separate Node process (its own SQLite library instance and locks), like the CLI. */
  const inAnotherProcess = (file: string, sql: string) =>
    new Promise<void>((resolve, reject) => {
      const script = `const D = require("better-sqlite3"); const d = new D(process.argv[1], { timeout: 10000 }); d.exec(process.argv[2]); d.close();`;
      execFile(process.execPath, ["-e", script, file, sql], { cwd: process.cwd() }, (err, _out, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(),
      );
    });

  async function revokedFromAnotherProcess(t: TestDb, expectedCheck: string) {
    const file = t.url.slice("file:".length);
    const lookup = openKeyLookup(t.url, { cacheSize: 100 });
    try {
      expect(lookup.changeCheck).toBe(expectedCheck);
      const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, reader: lookup.reader });
      const user = await makeUser(t.db);
      const minted = await keys.mint({ userId: user.id, label: "cli victim", source: "portal" }, BY_OPERATOR);
      for (let i = 0; i < 3; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
      const hits = lookup.stats()!.hits;
      expect((await keys.verify(minted.raw)).ok).toBe(true);
      expect(lookup.stats()!.hits).toBe(hits + 1); // served from memory...
      await inAnotherProcess(file, `UPDATE "ApiKey" SET "revokedAt" = '2026-01-01 00:00:00' WHERE id = '${minted.key.id}'`);
      expect(await keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" }); // ...until the other process commits
      await inAnotherProcess(file, `UPDATE "ApiKey" SET "revokedAt" = NULL WHERE id = '${minted.key.id}'`);
      expect((await keys.verify(minted.raw)).ok).toBe(true);
    } finally {
      await lookup.close();
    }
  }

  it("WAL mode: a key revoked by another process fails the very next verify", (test) =>
    onOwnSqliteDb(test, (t) => revokedFromAnotherProcess(t, "wal-index")));

  it("outside WAL mode (data_version): a key revoked by another process fails the very next verify", (test) =>
    onOwnSqliteDb(test, async (t, file) => {
      await t.db.$disconnect();
      await inAnotherProcess(file, "PRAGMA journal_mode = DELETE");
      await revokedFromAnotherProcess(t, "data_version");
    }));

  it("the token moves on every commit, from this process or another, and stays put without one", (test) =>
    onOwnSqliteDb(test, async (t, file) => {
      await t.db.user.count();
      const reader = new Database(file, { readonly: true, fileMustExist: true });
      const token = sqliteChangeToken(reader, file);
      try {
        expect(token.kind).toBe("wal-index");
        const seen = [token.read()];
        seen.push(token.read());
        expect(seen[1]).toBe(seen[0]); // nothing committed
        await makeUser(t.db); // Prisma, this process
        seen.push(token.read());
        expect(seen[2]).not.toBe(seen[1]);
        await inAnotherProcess(file, `UPDATE "User" SET email = email`); // another process, no real change
        seen.push(token.read());
        expect(seen[3]).not.toBe(seen[2]);
        await t.db.$executeRawUnsafe("PRAGMA wal_checkpoint(TRUNCATE)"); // the WAL restarts from its start
        seen.push(token.read());
        await makeUser(t.db);
        seen.push(token.read());
        expect(seen[5]).not.toBe(seen[4]);
        expect(token.read()).toBe(seen[5]);
      } finally {
        token.close();
        reader.close();
      }
    }));
});
