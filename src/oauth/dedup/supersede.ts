// Hosts that register a new client on every connect (issue 26: one registered 16 clients in 11 days
// for one user) must not leave a pile of clients and one Connected apps row per connect. The rule
// (docs/hosts.md#registrations):
//
// When a user authorizes a dynamically registered client (the token request that mints its key), every
// other dynamically registered client *that user holds keys from* whose fingerprint (fingerprint.ts)
// equals the new one's is superseded by it: that user's keys from it (active, revoked, expired) move to
// the new client, keeping their grants, scopes, limits and expiry, so they keep working and the app is
// one row; the user's limits for the old client move too (and apply to the key being minted). An old
// client left with no key of anybody is deleted (its id is then unknown: a host still holding it
// registers again). Registration itself never merges or deletes anything, so RFC 7591 holds (each
// registration gets its own valid credentials) and a stranger who registers the same name and redirect
// URIs gains nothing: only the user's own consent moves only the user's own keys.
import type { Db } from "../../db/client.js";
import type { Audit } from "../../audit/index.js";
import type { Keys } from "../../keys/index.js";
import { createPayloadAdapter } from "../adapter.js";
import { clientFingerprint } from "./fingerprint.js";

export const DCR_PREFIX = "dcr_";

export interface Superseded {
  clientId: string;
  keysMoved: number;
  deleted: boolean;
}

export async function supersedeEarlierRegistrations(
  db: Db,
  audit: Pick<Audit, "record">,
  keys: Pick<Keys, "moveClientKeys">,
  req: { userId: string; clientId: string },
): Promise<Superseded[]> {
  const { userId, clientId } = req;
  if (!clientId.startsWith(DCR_PREFIX)) return [];
  const clients = createPayloadAdapter(db, "Client");
  const current = await clients.find(clientId);
  if (!current) return [];
  const fingerprint = clientFingerprint(current);

  const held = await db.apiKey.findMany({
    where: { userId, appId: null, source: "oauth", clientId: { startsWith: DCR_PREFIX, not: clientId } },
    select: { clientId: true },
    distinct: ["clientId"],
    take: 1000,
  });
  const done: Superseded[] = [];
  for (const { clientId: earlier } of held) {
    if (!earlier) continue;
    const metadata = await clients.find(earlier);
    if (!metadata || clientFingerprint(metadata) !== fingerprint) continue;
    const keysMoved = await keys.moveClientKeys(userId, earlier, clientId);
    // Nobody's key is left on it: the registration is gone for good (other users' keys keep it alive).
    const left = await db.apiKey.count({ where: { clientId: earlier } });
    const deleted = left === 0 && (await db.oidcPayload.deleteMany({ where: { model: "Client", id: earlier } })).count > 0;
    await audit.record({
      userId,
      actor: { type: "oauth_client", id: clientId },
      action: "oauth.registration_superseded",
      targetId: clientId,
      details: { previousClientId: earlier, keysMoved, previousDeleted: deleted },
    });
    done.push({ clientId: earlier, keysMoved, deleted });
  }
  return done;
}
