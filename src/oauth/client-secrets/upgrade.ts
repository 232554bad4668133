// Rows older versions wrote hold the client_secret in clear. Every server start and `keyward
// migrate` hash them all (a backup taken afterwards holds none; the other CLI commands do not scan
// the table), and a read hashes one met later (a row an older instance wrote during a rolling
// upgrade), so neither a sweep nor a read is the only way out of clear.
// No SQL migration: SQLite has no SHA-256 function. Compare-and-swap on the payload, so concurrent
// starts and reads (and an RFC 7592 update in between) never overwrite each other.
import type { Db } from "../../db/client.js";
import { hasClearClientSecret, withHashedClientSecret } from "./stored-secret.js";

interface ClientRow {
  id: string;
  payload: string;
}

// JSON.stringify writes `"client_secret":"…"` exactly so: most rows (public clients, hashed secrets) are decided without parsing.
const MAY_BE_CLEAR = '"client_secret":"';
const HASHED = '"client_secret":"sha256:';

/** The row's payload with the secret hashed, written back if it was in clear. */
export async function upgradeClientRow<R extends ClientRow>(db: Db, row: R): Promise<R> {
  if (!row.payload.includes(MAY_BE_CLEAR) || row.payload.includes(HASHED)) return row;
  const metadata = JSON.parse(row.payload) as { client_secret?: unknown };
  if (!hasClearClientSecret(metadata)) return row;
  const payload = JSON.stringify(withHashedClientSecret(metadata));
  await db.oidcPayload.updateMany({ where: { model: "Client", id: row.id, payload: row.payload }, data: { payload } });
  return { ...row, payload };
}

/** Hashes every client secret still stored in clear; returns how many rows it changed. */
export async function upgradeClientSecrets(db: Db): Promise<number> {
  const rows = await db.oidcPayload.findMany({
    where: { model: "Client", payload: { contains: MAY_BE_CLEAR }, NOT: { payload: { contains: HASHED } } },
    select: { id: true, payload: true },
  });
  let upgraded = 0;
  for (const row of rows) if ((await upgradeClientRow(db, row)) !== row) upgraded++;
  return upgraded;
}
