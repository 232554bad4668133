// The connection doctor (issue 26 item 1, docs/connection-doctor.md): each step of an OAuth
// connection attempt, per client and user, with the exact reason of a failure in plain words: on the
// per-client page (src/doctor/routes.ts), in `keyward doctor`, and in the error_description the client
// gets; a key of no client (portal, CLI) has its refused MCP requests recorded per key. This module is
// what the key middleware (src/http/key-auth.ts) and the MCP endpoints call; the OAuth steps are
// watched in provider-events.ts and the consent in src/oauth/interactions.ts.
import type { Db } from "../db/client.js";
import type { Logger } from "../log.js";
import type { KeyRow } from "../keys/lookup/index.js";
import type { VerifyFailure } from "../keys/index.js";
import { boundResources } from "../keys/view.js";
import { createConnectionEvents, type ConnectionEvents, type Detail } from "./events.js";
import { describe, type ConnectionFailure } from "./reasons.js";
import { createDiscoveryMemory } from "./discovery.js";

export type { ConnectionEvents };
export { describe };

/** The parts of a refused key's row the doctor reads. */
export type RefusedKey = Pick<Readonly<KeyRow>, "id" | "userId" | "clientId" | "source" | "revokedAt" | "expiresAt" | "resource">;

/** The key whose request was answered, as the key middleware knows it. */
export interface UsedKey {
  id: string;
  clientId: string | null;
  source: string;
  userId: string | null;
}

/** The failure of a found key, typed; undefined when the generic words say it all (DPoP, allowlists, membership). */
export function keyFailure(
  reason: VerifyFailure,
  key: RefusedKey,
  calling: string | undefined,
  now = new Date(),
): ConnectionFailure | undefined {
  if (reason === "revoked" && key.revokedAt) return { kind: "revoked", revokedAt: key.revokedAt, now };
  if (reason === "expired" && key.expiresAt) return { kind: "expired", expiresAt: key.expiresAt, now };
  const bound = boundResources(key.resource);
  if (reason === "wrong_resource" && bound && calling)
    return { kind: "wrong_resource", boundTo: bound, calling, oauth: key.source === "oauth" };
  return undefined;
}

export function createDoctor(db: Db, logger: Logger) {
  const events = createConnectionEvents(db, logger);
  const firstUses = new Set<string>();

  /**
   * A found key's refusal, typed (`words`: the generic ones, when they say it all). Reads the database
   * only for a key issued without a resource parameter that is refused for the wrong resource.
   */
  const failureOf = async (
    reason: VerifyFailure,
    key: RefusedKey,
    calling: string | undefined,
    words: string,
  ): Promise<ConnectionFailure> => {
    const failure = keyFailure(reason, key, calling) ?? { kind: "key_refused", words };
    if (failure.kind === "wrong_resource" && failure.oauth) {
      await events.settled(); // its code exchange's event, if still being written
      const sent = await events.resourceSent(key.id).catch(() => undefined);
      if (sent === false) return { ...failure, resourceSent: false };
    }
    return failure;
  };

  /**
   * A refused MCP request, recorded for the key's client and owner; a key of no client (portal, CLI)
   * for the key and its owner, so that its own doctor page and `keyward doctor --key` show it.
   */
  const recordRefusal = (key: Pick<UsedKey, "id" | "clientId" | "userId">, failure: ConnectionFailure, detail: Detail) =>
    events.record({
      clientId: key.clientId,
      userId: key.userId,
      keyId: key.id,
      step: "mcp_request",
      outcome: "failed",
      reason: failure,
      detail,
    });

  return {
    events,
    /** The discovery requests of callers not yet known as a client (discovery.ts). */
    discovery: createDiscoveryMemory(),

    /** A found key was refused at an MCP endpoint: the words for its error_description, recorded. */
    async refused(reason: VerifyFailure, key: RefusedKey, calling: string | undefined, words: string): Promise<string> {
      const failure = await failureOf(reason, key, calling, words);
      recordRefusal(key, failure, { resource: calling ?? null, refusal: reason });
      return describe(failure);
    },

    /**
     * A found key was refused elsewhere (the JSON API: not a connection step, so not recorded): the
     * same words as at an MCP endpoint.
     */
    async explained(reason: VerifyFailure, key: RefusedKey, calling: string | undefined, words: string): Promise<string> {
      return describe(await failureOf(reason, key, calling, words));
    },

    /** A tools/call refused for a scope the key lacks (403): the words, recorded. */
    lacking(key: UsedKey, scope: string, tool: string | undefined, calling: string): string {
      const failure: ConnectionFailure = { kind: "missing_scope", scope, tool };
      recordRefusal(key, failure, { resource: calling, scope, tool: tool ?? null });
      return describe(failure);
    },

    /** An OAuth key's request was let through: its first one is recorded, no later ones (not every success). */
    used(key: UsedKey, calling: string | undefined): void {
      if (!key.clientId || key.source !== "oauth" || firstUses.has(key.id)) return;
      if (firstUses.size > 10_000) firstUses.clear();
      firstUses.add(key.id);
      const clientId = key.clientId;
      const at = new Date();
      events.track(
        events.firstUseRecorded(key.id).then(
          (done) => {
            if (!done)
              events.record({
                clientId,
                userId: key.userId,
                keyId: key.id,
                step: "mcp_request",
                outcome: "ok",
                detail: { resource: calling ?? null },
                at,
              });
          },
          (err: unknown) => logger.warn({ err }, "connection doctor: first use not checked"),
        ),
      );
    },
  };
}

export type Doctor = ReturnType<typeof createDoctor>;
