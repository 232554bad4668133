// Resource servers the operator registered (`keyward resource-servers add`): confidential clients
// that may introspect (RFC 7662) and revoke (RFC 7009) any key in the table. Every other client —
// self-registered, metadata document, public or confidential — reaches only the keys issued to it.
//
// The mark is the client id: `rs_…` ids are created here, by a command with database access, and
// by nothing else (registration always issues `dcr_…`, metadata-document clients are https URLs,
// and RFC 7592 cannot change a client id).
import { randomBytes } from "node:crypto";
import type { Db } from "../db/client.js";
import { randomBase62 } from "../keys/format.js";
import { createPayloadAdapter } from "./adapter.js";
import { textProblem } from "./client-text.js";

export const RESOURCE_SERVER_PREFIX = "rs_";

export interface ClientLike {
  clientId: string;
  clientAuthMethod?: string;
}

export function isResourceServer(client: ClientLike): boolean {
  return client.clientId.startsWith(RESOURCE_SERVER_PREFIX) && client.clientAuthMethod !== undefined && client.clientAuthMethod !== "none";
}

export interface ResourceServer {
  clientId: string;
  name: string;
  createdAt: string;
}

export class ResourceServerInputError extends Error {}

export function createResourceServers(db: Db) {
  const clients = createPayloadAdapter(db, "Client");
  return {
    /** Registers a resource server; the secret is returned here and never again. */
    async add(name: string): Promise<ResourceServer & { clientSecret: string }> {
      const clean = name.trim();
      if (!clean || clean.length > 100) throw new ResourceServerInputError("the name must be 1 to 100 characters");
      const problem = textProblem(clean);
      if (problem) throw new ResourceServerInputError(`the name ${problem}`);
      const clientId = `${RESOURCE_SERVER_PREFIX}${randomBase62(22)}`;
      const clientSecret = randomBytes(48).toString("base64url");
      const issuedAt = Math.floor(Date.now() / 1000);
      await clients.upsert(
        clientId,
        {
          client_id: clientId,
          client_id_issued_at: issuedAt,
          client_name: clean,
          client_secret: clientSecret,
          client_secret_expires_at: 0,
          token_endpoint_auth_method: "client_secret_basic",
          grant_types: [],
          response_types: [],
          redirect_uris: [],
        },
        0,
      );
      return { clientId, name: clean, createdAt: new Date(issuedAt * 1000).toISOString(), clientSecret };
    },

    async list(): Promise<ResourceServer[]> {
      const rows = await db.oidcPayload.findMany({
        where: { model: "Client", id: { startsWith: RESOURCE_SERVER_PREFIX } },
        orderBy: { createdAt: "asc" },
      });
      return rows.map((row) => {
        const payload = JSON.parse(row.payload) as { client_name?: unknown };
        return {
          clientId: row.id,
          name: typeof payload.client_name === "string" ? payload.client_name : "",
          createdAt: row.createdAt.toISOString(),
        };
      });
    },

    /** True when a resource server with this id existed and was removed. */
    async remove(clientId: string): Promise<boolean> {
      if (!clientId.startsWith(RESOURCE_SERVER_PREFIX)) return false;
      const { count } = await db.oidcPayload.deleteMany({ where: { model: "Client", id: clientId } });
      return count > 0;
    },
  };
}
