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
// registers again); a token request for it that is minting a key at that moment either keeps it alive
// or is refused as invalid_client (registrationStored), never leaves a key on a deleted client.
// Registration itself never merges or deletes anything, so RFC 7591 holds (each registration gets its
// own valid credentials) and a stranger who registers the same name and redirect URIs gains nothing:
// only the user's own consent moves only the user's own keys.
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
  keys: Pick<Keys, "moveClientKeys" | "removeClientIfKeyless">,
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
    // Counted and deleted under the client's key lock, so a key minted for it meanwhile is never orphaned.
    const deleted = await keys.removeClientIfKeyless(
      earlier,
      async (tx) => (await tx.oidcPayload.deleteMany({ where: { model: "Client", id: earlier } })).count > 0,
    );
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

/**
 * Whether a client's registration is still stored, read in the transaction minting a key for it (after
 * the client's key lock: src/keys/client-lock.ts). Only dynamically registered clients are ever deleted.
 */
export async function registrationStored(tx: Pick<Db, "oidcPayload">, clientId: string): Promise<boolean> {
  return !clientId.startsWith(DCR_PREFIX) || (await tx.oidcPayload.count({ where: { model: "Client", id: clientId } })) > 0;
}
