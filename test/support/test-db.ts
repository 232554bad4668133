// Small helpers for the key-domain tests that need a database but no HTTP server:
// a fresh copy of the migrated template, and a user row to hang keys on.
import { randomUUID } from "node:crypto";
import { createTestDatabase } from "./db.js";
import { createDb, type Db } from "../../src/db/client.js";

export interface TestDb {
  db: Db;
  url: string;
  close(): Promise<void>;
}

/** A fresh migrated database (SQLite file or PostgreSQL database, per this run's backend). */
export async function openTestDb(): Promise<TestDb> {
  const database = await createTestDatabase();
  const db = await createDb(database.url);
  return {
    db,
    url: database.url,
    async close() {
      await db.$disconnect();
      await database.drop();
    },
  };
}

export async function makeUser(db: Db, email = `u${randomUUID().slice(0, 8)}@example.com`) {
  return db.user.create({ data: { id: `usr_${randomUUID().replace(/-/g, "")}`, email, passwordHash: "x" } });
}

/** Decodes the few entities ejs produces, to read text back out of a rendered page. */
export function unescapeHtml(s: string): string {
  return s.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** The <tr> of one key on the account page, by key id. */
export function rowFor(html: string, keyId: string): string {
  const m = new RegExp(`<tr class="([^"]*)" data-key-id="${keyId}">([\\s\\S]*?)</tr>`).exec(html);
  if (!m) throw new Error(`no row for ${keyId}`);
  return m[0];
}
