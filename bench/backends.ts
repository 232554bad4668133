// One bench run over each backend asked for, the way every bench of real requests does it: PostgreSQL
// skipped with a line when it cannot be reached, every server started stopped at the end, and on Ctrl-C
// the databases still open dropped before the process leaves.
import { createBenchDatabase, postgresReachable, type Backend, type BenchDatabase } from "./database.js";
import { stopAll } from "./servers.js";

const open = new Set<BenchDatabase>();

/** A fresh bench database that Ctrl-C drops too, until its own drop(). */
export async function openBenchDatabase(backend: Backend, pgUrl: string): Promise<BenchDatabase> {
  const db = await createBenchDatabase(backend, pgUrl);
  open.add(db);
  return {
    ...db,
    drop: async () => {
      open.delete(db);
      await db.drop();
    },
  };
}

/** `bench(backend)` for each backend in turn; the results of those that ran. */
export async function forEachBackend<R>(
  backends: Backend[],
  pgUrl: string,
  log: (line: string) => void,
  bench: (backend: Backend) => Promise<R>,
): Promise<R[]> {
  process.once(
    "SIGINT",
    () =>
      void stopAll().then(async () => {
        for (const db of open) await db.drop().catch(() => {});
        process.exit(130);
      }),
  );
  const results: R[] = [];
  try {
    for (const backend of backends) {
      if (backend === "postgresql") {
        const problem = await postgresReachable(pgUrl);
        if (problem) {
          log(`postgresql skipped: ${problem}`);
          continue;
        }
      }
      results.push(await bench(backend));
    }
  } finally {
    await stopAll();
  }
  return results;
}
