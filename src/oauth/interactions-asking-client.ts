// Which application an authorization in progress is for, so the log-in page it sends the user to
// can say who is asking. Read from the stored Interaction (its uid is the last segment of the
// return address) and the stored Client; nothing here trusts the query string beyond the uid.
import type { Db } from "../db/client.js";
import { createPayloadAdapter } from "./adapter.js";
import { FIRST_PARTY_CLIENT_ID } from "./access-token-adapter.js";
import { INTERACTION_PATH } from "./provider.js";

export interface AskingClient {
  id: string;
  /** The name the client gave itself, or "" when it gave none. */
  name: string;
  /** Registered by the app itself (dynamic registration or a metadata document): its name is not verified. */
  selfRegistered: boolean;
}

/** True for every client except the operator's own (the only one configured, not registered by an app). */
export const isSelfRegistered = (clientId: string) => clientId !== FIRST_PARTY_CLIENT_ID;

const INTERACTION = new RegExp(`^${INTERACTION_PATH}/([A-Za-z0-9_-]{1,100})$`);

export async function askingClient(db: Db, returnTo: string): Promise<AskingClient | undefined> {
  const uid = INTERACTION.exec(returnTo)?.[1];
  if (!uid) return undefined;
  const interaction = await createPayloadAdapter(db, "Interaction").find(uid);
  const clientId = interaction?.params?.client_id;
  if (typeof clientId !== "string" || !clientId) return undefined;
  const client = await createPayloadAdapter(db, "Client").find(clientId);
  const name = typeof client?.client_name === "string" ? client.client_name : "";
  return { id: clientId, name, selfRegistered: isSelfRegistered(clientId) };
}
