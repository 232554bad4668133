// SQLite's change token for the verification cache (src/keys/lookup/cache.ts): a number that moves
// whenever any connection, in this process or another (the CLI, a second server), commits to the file.
// The cache reads it through oncePerTurn() (below): one read answers every request of a turn.
//
// In WAL mode (the server sets it, src/db/migrate.ts) every commit rewrites the WAL-index header:
// the first 96 bytes of the `<file>-shm` file, two copies of a 48-byte struct holding a per-commit
// counter, the last frame number and checksums (https://sqlite.org/walformat.html, "The WAL-Index
// Header"). Every SQLite connection of every process maps that file, so the format is fixed across
// versions. Reading those bytes is one `pread`, about 1 µs; `PRAGMA data_version` starts and ends a
// read transaction (locks and a statement step), about 2–4 µs, and this check runs on every request.
//
// Why a plain read is enough: a writer appends its frames first and then rewrites the header (copy 2,
// a barrier, copy 1). We read the header before reading any row. If our read saw the whole new header,
// the row read that follows sees the new commit; if it saw any old byte, the token differs from the
// finished header and the next request empties the cache again. Anything unexpected (no -shm file, a
// short read) counts as a change, which only costs a row query. Outside WAL mode, `data_version`.
import { closeSync, openSync, readSync } from "node:fs";
import type Database from "better-sqlite3";

const HEADER_BYTES = 96;

export interface SqliteChangeToken {
  /** The current token; equal tokens mean nothing was committed in between. */
  read(): number;
  /** "wal-index" or "data_version": which mechanism is in use (logged, tested). */
  readonly kind: "wal-index" | "data_version";
  close(): void;
}

/** `sqlite` is the lookup's own (read-only) connection to `file`; it has already read the file. */
export function sqliteChangeToken(sqlite: Database.Database, file: string): SqliteChangeToken {
  const dataVersion = sqlite.prepare("PRAGMA data_version").pluck();
  const fallback: SqliteChangeToken = { kind: "data_version", read: () => dataVersion.get() as number, close() {} };
  if (sqlite.pragma("journal_mode", { simple: true }) !== "wal") return fallback;
  let fd: number;
  try {
    dataVersion.get(); // a read transaction: the connection has mapped the -shm file, so it exists
    fd = openSync(`${file}-shm`, "r");
  } catch {
    return fallback;
  }
  const now = Buffer.alloc(HEADER_BYTES);
  const last = Buffer.alloc(HEADER_BYTES);
  let version = 0;
  return {
    kind: "wal-index",
    read() {
      let n = 0;
      try {
        n = readSync(fd, now, 0, HEADER_BYTES, 0);
      } catch {
        // unreadable: counts as a change
      }
      if (n !== HEADER_BYTES || !now.equals(last)) {
        now.copy(last);
        version++;
      }
      return version;
    },
    close() {
      closeSync(fd);
    },
  };
}

/**
 * A synchronous read shared by every caller of one event-loop turn, without any caller getting an
 * answer older than its call: the read is made in the turn's check phase (setImmediate), after every
 * caller that asked during the turn (all the requests read from their sockets in it). A caller
 * arriving after the read ran waits for the next turn's. Under load one system call answers every
 * request of a turn instead of one each.
 */
export function oncePerTurn<T>(read: () => T): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        pending = undefined; // callers from now on get the next turn's read
        try {
          resolve(read());
        } catch (err) {
          reject(err);
        }
      });
    }));
}
