// The key check alone, in process: keys.verify() called in a loop against the benchmark's database,
// with the verification cache on (every call after the first is a hit: one change check, no row
// query) and off (one key-row query per call). No HTTP, no load generator: what the auth step
// itself costs in CPU, free of the scheduling noise of a machine shared with autocannon.
import { createDb } from "../src/db/client.js";
import { openKeyLookup } from "../src/keys/lookup/index.js";
import { createKeys } from "../src/keys/index.js";

export interface VerifyMicro {
  /** Microseconds per verify() call, median of the rounds. */
  cachedUs: number;
  uncachedUs: number;
  calls: number;
}

async function timePerCall(run: () => unknown, calls: number, rounds: number): Promise<number> {
  for (let i = 0; i < Math.min(2000, calls); i++) await run(); // warm-up (JIT, caches)
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) await run();
    samples.push(((performance.now() - started) * 1000) / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Sequential calls (one at a time), as one request would make them; `calls` per round, 3 rounds. */
export async function verifyMicro(databaseUrl: string, raw: string, prefix: string, calls = 20_000): Promise<VerifyMicro> {
  const db = await createDb(databaseUrl);
  const cachedLookup = openKeyLookup(databaseUrl, { cacheSize: 1000 });
  const plainLookup = openKeyLookup(databaseUrl, { cacheSize: 0 });
  try {
    await cachedLookup.feed?.ready(); // PostgreSQL: measure the cache as a running instance has it
    const options = { prefix, scopes: ["mcp:read", "mcp:write"], lastUsedFlushMs: 3600_000 };
    const cached = createKeys(db, { ...options, reader: cachedLookup.reader });
    const plain = createKeys(db, { ...options, reader: plainLookup.reader });
    for (const keys of [cached, plain]) {
      const r = await keys.verify(raw);
      if (!r.ok) throw new Error(`verify-micro: the key does not verify (${r.reason})`);
    }
    const cachedUs = await timePerCall(() => cached.verify(raw), calls, 3);
    const uncachedUs = await timePerCall(() => plain.verify(raw), Math.ceil(calls / 4), 3);
    return { cachedUs, uncachedUs, calls };
  } finally {
    await cachedLookup.close();
    await plainLookup.close();
    await db.$disconnect();
  }
}
