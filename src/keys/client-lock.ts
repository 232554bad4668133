// One lock per OAuth client id, held by every transaction that writes a key onto the client (a mint,
// a move: ./store.ts, ./reattribute.ts) and by the one that deletes the client's registration when no
// key is left on it (./reattribute.ts removeClientIfKeyless). So a key is never left on a client id
// whose registration was deleted in between (src/oauth/dedup/supersede.ts).
import type { Prisma } from "../generated/sqlite/client.js";
import type { Provider } from "../db/client.js";
import { lockWithin } from "../db/locks.js";

export async function lockClientKeys(tx: Prisma.TransactionClient, provider: Provider, clientId: string): Promise<void> {
  await lockWithin(tx, provider, `keyward.client-keys:${clientId}`);
}
