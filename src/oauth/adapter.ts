// oidc-provider persistence on Prisma. One table (OidcPayload) holds every model except access
// tokens, which are rows of the key table (access-token-adapter.ts). Ids that are bearer secrets
// (codes, sessions, interactions, registration access tokens …) are stored as their SHA-256 and the
// raw `jti` is stripped from the stored payload, so a database leak does not hand them out; nor does
// an Interaction's copy of the session cookie (`session.cookie`, which nothing reads back). A
// client's `client_secret` is stored as its hash (client-secrets/), however the client is written.
import { createHash } from "node:crypto";
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { Db } from "../db/client.js";
import { withHashedClientSecret } from "./client-secrets/stored-secret.js";
import { upgradeClientRow } from "./client-secrets/upgrade.js";

/**
 * Models whose ids are stored as they are: public identifiers (Client, Grant) and values that are
 * already digests (ReplayDetection). A Session's id is its cookie value, so it is hashed like the
 * other secrets: oidc-provider finds a session by that cookie (find) or by its `uid` (findByUid, a
 * column of its own, only ever read), and saves it under the id it was found with.
 */
const PLAIN_IDS = new Set(["Client", "Grant", "ReplayDetection"]);

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

/** Ids and codes come from requests; PostgreSQL text cannot hold NUL, and no stored id contains one. */
const unstorable = (value: string) => value.includes("\u0000");

export function createPayloadAdapter(db: Db, model: string): Adapter {
  const hashed = !PLAIN_IDS.has(model);
  const isClient = model === "Client";
  const key = (id: string) => ({ model_id: { model, id: hashed ? sha256(id) : id } });

  const read = (
    row: { payload: string; consumedAt: Date | null; expiresAt: Date | null } | null,
    id: string,
  ): AdapterPayload | undefined => {
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (hashed && id) payload.jti = id;
    if (row.consumedAt) payload.consumed = Math.floor(row.consumedAt.getTime() / 1000);
    return payload;
  };

  return {
    async upsert(id, payload, expiresIn) {
      const stored: AdapterPayload = isClient ? withHashedClientSecret({ ...payload }) : { ...payload };
      if (hashed) delete stored.jti;
      if (stored.session?.cookie) {
        const { cookie: _sessionId, ...session } = stored.session;
        stored.session = session;
      }
      const data = {
        payload: JSON.stringify(stored),
        grantId: payload.grantId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      const where = key(id);
      await db.oidcPayload.upsert({ where, create: { ...where.model_id, ...data }, update: data });
    },

    async find(id) {
      if (unstorable(id)) return undefined;
      const row = await db.oidcPayload.findUnique({ where: key(id) });
      return read(isClient && row ? await upgradeClientRow(db, row) : row, id);
    },

    async findByUid(uid) {
      if (unstorable(uid)) return undefined;
      const row = await db.oidcPayload.findFirst({ where: { model, uid } });
      return row ? read(row, "") : undefined;
    },

    async findByUserCode(userCode) {
      if (unstorable(userCode)) return undefined;
      const row = await db.oidcPayload.findFirst({ where: { model, userCode } });
      return row ? read(row, "") : undefined;
    },

    async consume(id) {
      if (unstorable(id)) return;
      await db.oidcPayload.updateMany({ where: key(id).model_id, data: { consumedAt: new Date() } });
    },

    async destroy(id) {
      if (unstorable(id)) return;
      await db.oidcPayload.deleteMany({ where: key(id).model_id });
    },

    async revokeByGrantId(grantId) {
      if (unstorable(grantId)) return;
      await db.oidcPayload.deleteMany({ where: { model, grantId } });
    },
  };
}
