// Moving a user's OAuth keys from one client registration to another (issue 26: a host that
// registers again on every connect is one app; src/oauth/dedup/supersede.ts decides when). The keys
// keep everything else: scopes, resources, grant, limits, expiry; the user's limits for the old
// client move with them. The verification cache is told through the apiKey write (lookup/announce.ts).
import type { Db } from "../db/client.js";

export function createReattribution(db: Db) {
  return {
    /** Moves `userId`'s keys (any status) and client limits from client `from` to client `to`; returns how many keys moved. */
    async moveClientKeys(userId: string, from: string, to: string): Promise<number> {
      return db.$transaction(async (tx) => {
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
  };
}
