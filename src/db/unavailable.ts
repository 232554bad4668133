// Recognises "the database is not there right now" among the errors Prisma and its driver adapters
// throw, so the request gets 503 + Retry-After (try again) instead of 500 (our bug).
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2034"]);
const ADAPTER_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "TooManyConnections",
  "SocketTimeout",
  "TlsConnectionError",
  "TransactionWriteConflict",
]);
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"]);
// PostgreSQL: class 08 connection exceptions, shutdown / starting up, too many connections.
const PG_CODES = /^(08...|57P0[123]|53300)$/;
// SQLite: busy, locked, I/O error, cannot open, disk full.
const SQLITE_CODES = new Set([5, 6, 10, 13, 14, "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN"]);

interface ErrorLike {
  code?: unknown;
  errno?: unknown;
  kind?: unknown;
  extendedCode?: unknown;
  originalCode?: unknown;
  message?: unknown;
  cause?: unknown;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e && typeof e === "object"; depth++) {
    const x = e as ErrorLike;
    if (typeof x.code === "string" && (PRISMA_CODES.has(x.code) || SOCKET_CODES.has(x.code) || PG_CODES.test(x.code))) return true;
    if (typeof x.kind === "string" && ADAPTER_KINDS.has(x.kind)) return true;
    if (x.kind === "postgres" && typeof x.code === "string" && PG_CODES.test(x.code)) return true;
    if (
      x.kind === "postgres" &&
      typeof x.message === "string" &&
      /not currently accepting connections|terminating connection/.test(x.message)
    )
      return true;
    if (x.kind === "sqlite" && (SQLITE_CODES.has(x.extendedCode as number) || SQLITE_CODES.has(x.originalCode as number))) return true;
    if (
      typeof x.message === "string" &&
      /Can't reach database server|Timed out fetching a new connection|Connection terminated|not currently accepting connections|terminating connection/.test(
        x.message,
      )
    )
      return true;
    e = x.cause;
  }
  return false;
}
