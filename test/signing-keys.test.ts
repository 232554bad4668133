// The token-signing key set: an RS256 key and an Ed25519 one (the gateway signs its per-request
// assertion with the latter). A set stored before the Ed25519 key existed gets exactly one added,
// and instances starting at once end up publishing the same set.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { createDb, type Db } from "../src/db/client.js";
import { tokenSigningJwks } from "../src/secrets.js";

let database: TestDatabase;
let db: Db;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await createDb(database.url);
});
afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("token-signing key set", () => {
  it("is made with an RS256 and an Ed25519 key", async () => {
    await db.secret.deleteMany({ where: { name: "oidc-jwks" } });
    const jwks = await tokenSigningJwks(db);
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(["EdDSA", "RS256"]);
    expect(await tokenSigningJwks(db)).toEqual(jwks);
  });

  it("an RS256-only set stored by an older version gets one Ed25519 key, the same for instances starting together", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsa = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
    await db.secret.deleteMany({ where: { name: "oidc-jwks" } });
    await db.secret.create({ data: { name: "oidc-jwks", value: JSON.stringify({ keys: [rsa] }) } });
    const [a, b, c] = await Promise.all([tokenSigningJwks(db), tokenSigningJwks(db), tokenSigningJwks(db)]);
    expect(a.keys).toHaveLength(2);
    expect(a.keys[0]).toEqual(rsa);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(await tokenSigningJwks(db)).toEqual(a);
  });
});
