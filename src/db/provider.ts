// Which database a Prisma client talks to, readable without loading the database drivers (the CLI's
// --help and usage errors import what names it, never the drivers: src/cli/program.ts).
import type { Db, Provider } from "./client.js";

export const PROVIDER = Symbol("keyward.provider");

/** Which database a client talks to, for the few statements written in SQL (src/keys/last-used-writes.ts). */
export function providerOfDb(db: Db): Provider {
  return (db as Db & { [PROVIDER]?: Provider })[PROVIDER] ?? "sqlite";
}
