// Moving a user's OAuth keys from one client registration to another (issue 26: a host that
// registers again on every connect is one app; src/oauth/dedup/supersede.ts decides when). The keys
// keep everything else: scopes, resources, grant, limits, expiry; the user's limits for the old
// client move with them. The verification cache is told through the apiKey write (lookup/announce.ts).
// The old client's registration is deleted once no key is left on it, never while one is being minted.
import type { Db } from "../db/client.js";
import { providerOfDb } from "../db/provider.js";
import type { Prisma } from "../generated/sqlite/client.js";
import { lockClientKeys } from "./client-lock.js";

export function createReattribution(db: Db) {
  const provider = providerOfDb(db);
  return {
    /** Moves `userId`'s keys (any status) and client limits from client `from` to client `to`; returns how many keys moved. */
    async moveClientKeys(userId: string, from: string, to: string): Promise<number> {
      return db.$transaction(async (tx) => {
        await lockClientKeys(tx, provider, to);
        const moved = await tx.apiKey.updateMany({
          where: { userId, appId: null, source: "oauth", clientId: from },
          data: { clientId: to },
        });
        const limits = await tx.clientKeyLimit.findUnique({ where: { userId_clientId: { userId, clientId: from } } });
        if (limits) {
          const { allowedIps, rateLimit } = limits;
          await tx.clientKeyLimit.upsert({
            where: { userId_clientId: { userId, clientId: to } },
            create: { userId, clientId: to, allowedIps, rateLimit },
            update: {},
          });
          await tx.clientKeyLimit.delete({ where: { userId_clientId: { userId, clientId: from } } });
        }
        return moved.count;
      });
    },

    /**
     * Runs `remove` (which deletes client `clientId`'s registration) only if no key of anybody is on the
     * client, holding the client's key lock (./client-lock.ts): a key minted for it at the same time either
     * committed first (counted here: the client stays) or waits, then finds the registration gone and is
     * refused. True when `remove` deleted it.
     */
    async removeClientIfKeyless(clientId: string, remove: (tx: Prisma.TransactionClient) => Promise<boolean>): Promise<boolean> {
      return db.$transaction(
        async (tx) => {
          await lockClientKeys(tx, provider, clientId);
          if ((await tx.apiKey.count({ where: { clientId } })) > 0) return false;
          return remove(tx);
        },
        { maxWait: 10_000 },
      );
    },
  };
}
