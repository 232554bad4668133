// Named locks for the few checks that must not interleave across PostgreSQL connections (a check
// then a write that depends on it). A transaction-scoped advisory lock: held until the transaction
// that took it commits or rolls back, so the next holder's statements see what the previous one wrote.
// SQLite needs none: it runs one transaction at a time (the driver adapter's mutex, one writer).
import type { Prisma } from "../generated/sqlite/client.js";
import type { Provider } from "./client.js";

/** Waits for the lock `name` within transaction `tx` (PostgreSQL; a no-op on SQLite). */
export async function lockWithin(tx: Prisma.TransactionClient, provider: Provider, name: string): Promise<void> {
  if (provider === "postgresql") await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
}
