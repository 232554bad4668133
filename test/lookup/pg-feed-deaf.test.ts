// The key-change feed must notice a connection that PostgreSQL's notifications do not reach (as
// through a transaction-mode pooler such as PgBouncer): its lease is accepted, so writers would wait
// for it, yet it would never hear of a change. The feed trusts its cache only once its own lease
// renewal came back on the channel, and gives the feed up (and its lease) when none do.
// No pooler here: a small TCP proxy in front of PostgreSQL drops every NotificationResponse
// ('A' message) on its way to the client and passes everything else, which is what such a
// pooler does to a LISTEN connection. The domain code has no test switch for it.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { listen } from "../../src/keys/lookup/pg-change-feed.js";
import { openTestDb, type TestDb } from "../support/test-db.js";

/** Server → client: the PostgreSQL wire protocol after start-up is type byte + int32 length (self-inclusive) + body. */
function withoutNotifications(): (chunk: Buffer) => Buffer {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const kept: Buffer[] = [];
    while (pending.length >= 5) {
      const size = 1 + pending.readInt32BE(1);
      if (pending.length < size) break;
      if (pending[0] !== 0x41) kept.push(pending.subarray(0, size)); // 'A': NotificationResponse
      pending = pending.subarray(size);
    }
    return Buffer.concat(kept);
  };
}

async function deafProxy(target: URL): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const filter = withoutNotifications();
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream); // the client speaks first (StartupMessage, no SSLRequest: node-pg without ssl)
    upstream.on("data", (chunk: Buffer) => {
      const out = filter(chunk);
      if (out.length > 0) client.write(out);
    });
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(inject("testBackend") !== "postgresql")("PostgreSQL key-change feed on a connection notifications do not reach", () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("trusts its cache only once its own lease renewal came back as a notification; gives the feed up when none do", async (test) => {
    const healthy = listen(t.url, { leaseMs: 5000 });
    test.onTestFinished(() => healthy.close());
    await healthy.ready();
    expect(healthy.current()).toBeDefined();

    const proxy = await deafProxy(new URL(t.url));
    test.onTestFinished(() => proxy.close());
    const errors: unknown[] = [];
    const leaseMs = 600;
    const deaf = listen(proxy.url, { leaseMs, onError: (err) => errors.push(err) });
    test.onTestFinished(() => deaf.close());
    const leaseRows = async () =>
      (await t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id = $1`, deaf.instanceId))[0]!
        .n;
    // Its lease is taken (the proxy passes queries and their results)...
    await vi.waitFor(async () => expect(await leaseRows()).toBe(1));
    expect(deaf.current()).toBeUndefined(); // ...but no echo came back: never trusted
    await vi.waitFor(() => expect(String(errors[0])).toMatch(/notifications do not reach this connection/), { timeout: 5000 });
    expect(deaf.current()).toBeUndefined();
    // Giving up reports first and then deletes the lease row on the feed's own connection (giveUp() in
    // pg-change-feed.ts): the row goes a round trip after the error, so wait for it (bounded)...
    await vi.waitFor(async () => expect(await leaseRows(), "lease rows after the feed gave up").toBe(0), { timeout: 5000 });
    // ...and it stays gone: the feed does not come back and take a lease again. Writers do not wait for it.
    await new Promise((resolve) => setTimeout(resolve, leaseMs));
    expect(await leaseRows()).toBe(0);
    expect(deaf.current()).toBeUndefined();
    expect(healthy.current()).toBeDefined();
  });
});
