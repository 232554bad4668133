// `keyward api-keys import`: keys from another system come in by SHA-256 hash (source `unknown`),
// all or nothing with per-line errors; their original raw keys then work at /mcp — legacy shapes only
// when the operator names them with LEGACY_KEY_PATTERN (everything else still fails the format check
// before any database work).
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../src/keys/format.js";
import { loadConfig } from "../src/config.js";
import { parseImport } from "../src/keys/index.js";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward } from "./support/cli-run.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const legacyKey = () => `acme_${randomBytes(16).toString("hex")}`;
const LEGACY = "acme_[0-9a-f]{32}";

async function mcp(server: TestServer, raw: string) {
  const res = await fetch(`${server.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${raw}`, Accept: "application/json, text/event-stream", "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });
  const body =
    res.status === 200
      ? ((await res.json()) as { result: { structuredContent: { keyId: string; keySource: string; email: string } } })
      : undefined;
  return { status: res.status, info: body?.result.structuredContent };
}

const line = (raw: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ hash: sha256(raw), label: "from acme", created: "2023-04-05T06:07:08Z", last4: raw.slice(-4), ...extra });

describe("keyward api-keys import", () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof signUp>>;
  let userId: string;
  const run = (args: string[], input: string) =>
    keyward(["api-keys", "import", "--user", user.email, ...args], { input, env: { DATABASE_URL: server.database.url } });
  const legacy = legacyKey();
  const modern = generateKey("kw_user_");

  beforeAll(async () => {
    server = await startTestServer({ LEGACY_KEY_PATTERN: LEGACY });
    user = await signUp(server);
    userId = (await server.services.users.findByEmail(user.email))!.id;
  });
  afterAll(async () => server?.close());

  it("reports every bad line with its number and writes nothing", async () => {
    const input = [
      line(legacy),
      "{not json",
      line(modern, { hash: "abc" }),
      JSON.stringify({ hash: sha256("x"), last4: "abcd" }),
      "",
      line(legacy, { label: "dup" }),
      line(modern, { extra: 1 }),
    ].join("\n");
    const result = await run([], input);
    expectError(result, 2, /5 invalid lines; nothing was imported/);
    expect(result.stderr).toContain("line 2: not valid JSON");
    expect(result.stderr).toContain("line 3: hash: must be the SHA-256 of the raw key");
    expect(result.stderr).toMatch(/line 4: created: /);
    expect(result.stderr).toContain("line 6: hash: the same hash as line 1");
    expect(result.stderr).toMatch(/line 7: .*extra/);
    expect(await server.services.keys.list(userId)).toEqual([]);
  });

  it("--dry-run validates and writes nothing", async () => {
    const result = await run(["--dry-run"], `${line(legacy)}\n${line(modern)}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Dry run: 2 keys would be imported");
    expect(await server.services.keys.list(userId)).toEqual([]);
    expect((await mcp(server, legacy)).status).toBe(401);
  });

  it("imports by hash: the original raw keys authenticate at /mcp, source Unknown on the page", async () => {
    const file = path.join(server.dir, "hashes.jsonl");
    writeFileSync(file, `${line(legacy)}\r\n${line(modern, { label: "modern one", created: "2024-01-01T00:00:00.000+02:00" })}\n`);
    const result = await keyward(["api-keys", "import", file, "--user", user.email, "--json"], {
      env: { DATABASE_URL: server.database.url },
    });
    expect(result.code, result.stderr).toBe(0);
    const imported = JSON.parse(result.stdout) as {
      id: string;
      label: string;
      source: string;
      sourceLabel: string;
      last4: string;
      createdAt: string;
    }[];
    expect(imported.map((k) => [k.label, k.source, k.sourceLabel, k.last4, k.createdAt])).toEqual([
      ["from acme", "unknown", "Unknown", legacy.slice(-4), "2023-04-05T06:07:08.000Z"],
      ["modern one", "unknown", "Unknown", modern.slice(-4), "2023-12-31T22:00:00.000Z"],
    ]);

    for (const raw of [legacy, modern]) {
      const { status, info } = await mcp(server, raw);
      expect(status).toBe(200);
      expect(info).toMatchObject({ email: user.email, keySource: "Unknown" });
    }
    // A legacy-shaped string that was never imported is still unknown.
    expect((await mcp(server, legacyKey())).status).toBe(401);

    const page = await user.agent.get("/app/account/api-keys").expect(200);
    const row = new RegExp(`data-key-id="${imported[0]!.id}"[\\s\\S]*?<span class="badge source-unknown">Unknown</span>`);
    expect(page.text).toMatch(row);
    // The database holds the hashes, never the raw keys.
    const stored = await server.database.contents();
    expect(stored.includes(legacy)).toBe(false);
  });

  it("is all or nothing: a hash already in the table refuses the whole file", async () => {
    const fresh = legacyKey();
    const result = await run([], `${line(fresh)}\n${line(legacy)}\n`);
    expectError(result, 2, /1 invalid line; nothing was imported/);
    expect(result.stderr).toContain("line 2: hash: a key with this hash already exists");
    expect((await server.services.keys.list(userId)).length).toBe(2);
    expect((await mcp(server, fresh)).status).toBe(401);
  });

  it("an unknown user is exit 3; empty input is exit 2", async () => {
    expectError(
      await keyward(["api-keys", "import", "--user", "nobody@example.com"], {
        input: line(legacyKey()),
        env: { DATABASE_URL: server.database.url },
      }),
      3,
      /no user with email/,
    );
    expectError(await run([], "\n\n"), 2, /input is empty/);
  });
});

describe("LEGACY_KEY_PATTERN", () => {
  it("without it, an imported legacy key is refused before the lookup; Keyward-format imports still work", async () => {
    const server = await startTestServer();
    try {
      const user = await server.services.users.create(`legacy${Date.now()}@example.com`, "correct horse battery");
      const legacy = legacyKey();
      const modern = generateKey("kw_user_");
      const { rows } = parseImport(`${line(legacy)}\n${line(modern)}`);
      const imported = await server.services.keys.importHashes(user.id, rows);
      // In the owner's personal organisation, as a portal key is: verification needs no extra queries.
      const personal = await server.services.orgs.ensurePersonal(user.id);
      expect(imported.map((k) => k.organizationId)).toEqual([personal, personal]);
      expect((await mcp(server, legacy)).status).toBe(401);
      expect(await server.services.keys.verify(legacy)).toMatchObject({ ok: false, reason: "invalid_format" });
      expect((await mcp(server, modern)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("is validated at start", () => {
    expect(() => loadConfig({ LEGACY_KEY_PATTERN: "acme_[" })).toThrow(/LEGACY_KEY_PATTERN not a valid regular expression/);
    expect(() => loadConfig({ LEGACY_KEY_PATTERN: ".*" })).toThrow(/LEGACY_KEY_PATTERN must not match the empty string/);
    const pattern = loadConfig({ LEGACY_KEY_PATTERN: LEGACY }).legacyKeyPattern!;
    // Anchored: a prefix or suffix around a match does not pass.
    expect(pattern.test(`x${legacyKey()}`)).toBe(false);
    expect(pattern.test(legacyKey())).toBe(true);
  });
});
