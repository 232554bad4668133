// Issue 25 B end to end: a separate MCP server in its own process (test/support/external-resource-server.ts:
// the MCP SDK's requireBearerAuth + keywardVerifier from "keyward/resource-server") verifies Keyward
// keys itself. The MCP SDK client completes OAuth from that server's URL alone; a revocation on
// Keyward is refused there on the very next request with its cache warm; with its event stream cut
// it introspects every request (still correct); credentials of one resource see nothing of another's
// keys; the raw contract (introspection, the event stream with Last-Event-ID and reset) from outside.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import request from "supertest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { ensureBuilt } from "../scripts/build.mjs";
import { signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { decideOnConsent, follow } from "./support/oauth/flow.js";
import { RecordingOAuthProvider } from "./support/oauth/mcp-sdk-provider.js";
import { hashKey } from "../src/keys/hash.js";
import { createAssertionSigner } from "../src/gateway/assertion.js";
import { MAX_STREAMS } from "../src/resources/events-route.js";
import { mintOnPage } from "./support/server.js";
import { createKeyEvents } from "../src/keys/events/index.js";
import { until } from "./support/waiting.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BY_CLI = { actor: { type: "cli" as const } };
const BY_OPERATOR = { actor: { type: "cli" as const, id: null }, via: "cli" as const };

interface ExternalServer {
  url: string;
  base: string;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Starts the separate server (port 0), registers it at Keyward as `slug`, hands it its credentials. */
async function startExternal(server: TestServer, slug: string): Promise<ExternalServer & { clientId: string; clientSecret: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/external-resource-server.ts"], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stderr!.on("data", (d) => output.push(String(d)));
  const first = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", () => reject(new Error(`external server exited: ${output.join("")}`)));
  });
  const { url } = JSON.parse(first) as { url: string };
  const added = await server.services.resources.add({ slug, name: `External ${slug}`, external: url }, BY_CLI);
  const { clientId, clientSecret } = added.credentials!;
  child.stdin!.write(`${JSON.stringify({ issuer: server.url, slug, clientId, clientSecret, resource: url })}\n`);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    url,
    base: new URL(url).origin,
    child,
    output,
    clientId,
    clientSecret,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function status(ext: ExternalServer): Promise<{ streaming: boolean; introspections: number }> {
  return (await (await fetch(`${ext.base}/test/status`)).json()) as { streaming: boolean; introspections: number };
}

const whoami = (ext: ExternalServer, key: string) =>
  fetch(ext.url, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let server: TestServer;
let a: ExternalServer & { clientId: string; clientSecret: string };
let b: ExternalServer & { clientId: string; clientSecret: string };
let person: Person;
let userId: string;

beforeAll(async () => {
  ensureBuilt(); // the child imports the compiled package entry (dist/resource-server)
  server = await startTestServer();
  [a, b] = [await startExternal(server, "files"), await startExternal(server, "tickets")];
  person = await signUp(server);
  userId = (await server.services.users.findByEmail(person.email))!.id;
  await until(async () => (await status(a)).streaming && (await status(b)).streaming, "both event streams");
}, 180_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await server?.close();
});

const mint = async (resources: string[] | undefined, label = "ext key") =>
  (await server.services.keys.mint({ userId, label, source: "portal", ...(resources ? { resources } : {}) }, BY_OPERATOR)).raw;

describe("the MCP SDK client against a separate resource server", () => {
  it("completes OAuth from the server's URL alone; the key is bound to that URL and works there", { timeout: 30_000 }, async () => {
    const provider = new RecordingOAuthProvider({ redirectUrl: "http://127.0.0.1:33418/callback", clientName: "External e2e client" });
    const transport = () => new StreamableHTTPClientTransport(new URL(a.url), { authProvider: provider });
    const first = new Client({ name: "external-e2e", version: "0.0.0" });
    const firstTransport = transport();
    await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
    const authUrl = provider.lastAuthorizationUrl;
    expect(authUrl.origin).toBe(server.url);
    expect(authUrl.searchParams.get("resource")).toBe(a.url);

    const consent = await follow(person.agent, server, authUrl.href);
    expect(consent.status).toBe(200);
    expect(consent.text).toContain("External files"); // consent names the resource server
    const back = await decideOnConsent(person.agent, server, consent);
    await firstTransport.finishAuth(back.searchParams.get("code")!);

    const client = new Client({ name: "external-e2e", version: "0.0.0" });
    await client.connect(transport());
    const result = await client.callTool({ name: "whoami", arguments: {} });
    const said = JSON.parse((result.content as { text: string }[])[0]!.text) as { extra: { sub: string; username: string } };
    expect(said.extra).toMatchObject({ sub: userId, username: person.email });
    await client.close();

    const key = (await server.services.keys.list(userId)).find((k) => k.source === "oauth")!;
    expect(key.resources).toEqual([a.url]);
    // and the other resource server refuses it
    expect((await whoami(b, provider.accessToken!)).status).toBe(401);
    // Keyward serves nothing at the slug of a separate server: its metadata is the server's own
    expect((await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/files`)).status).toBe(404);
    expect((await fetch(`${server.url}/mcp/files`, { method: "POST" })).status).toBe(404);
  });
});

describe("revocation reaches the separate server on the very next request", () => {
  it("refuses a revoked key with its cache warm (answered from memory before)", async () => {
    const raw = await mint([a.url]);
    expect((await whoami(a, raw)).status).toBe(200);
    const before = (await status(a)).introspections;
    expect((await whoami(a, raw)).status).toBe(200);
    expect((await status(a)).introspections).toBe(before); // warm: no introspection
    const [found] = await server.services.keys.list(userId).then((ks) => ks.filter((k) => k.label === "ext key" && k.status === "active"));
    await server.services.keys.revoke({ kind: "own", userId, id: found!.id }, { actor: { type: "cli", id: null }, via: "cli" });
    const refused = await whoami(a, raw);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("resource_metadata=");
  });

  it("a plain handler calling verifyAccessToken (no SDK middleware): the key's user, then 401 on the next request after revocation", async () => {
    const raw = await mint([a.url], "plain key");
    const plain = () => fetch(`${a.base}/plain`, { headers: { authorization: `Bearer ${raw}` } });
    const ok = await plain();
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { sub: string }).sub).toBe(userId);
    expect((await plain()).status).toBe(200); // held now
    const id = (await server.services.keys.list(userId)).find((k) => k.label === "plain key")!.id;
    await server.services.keys.revoke({ kind: "own", userId, id }, { actor: { type: "cli", id: null }, via: "cli" });
    const refused = await plain();
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("resource_metadata=");
  });

  it("with the event stream cut, introspects every request and still refuses a revoked key; resumes when it is back", async () => {
    const raw = await mint(undefined, "unbound key");
    expect((await whoami(a, raw)).status).toBe(200);
    await fetch(`${a.base}/test/cut-feed`, { method: "POST" });
    await until(async () => !(await status(a)).streaming, "the stream to be seen down");
    const before = (await status(a)).introspections;
    expect((await whoami(a, raw)).status).toBe(200);
    expect((await whoami(a, raw)).status).toBe(200);
    expect((await status(a)).introspections).toBe(before + 2); // nothing trusted from memory
    const id = (await server.services.keys.list(userId)).find((k) => k.label === "unbound key")!.id;
    await server.services.keys.revoke({ kind: "own", userId, id }, { actor: { type: "cli", id: null }, via: "cli" });
    expect((await whoami(a, raw)).status).toBe(401);
    await fetch(`${a.base}/test/restore-feed`, { method: "POST" });
    await until(async () => (await status(a)).streaming, "the stream to be back");
    const again = await mint(undefined, "after the outage");
    expect((await whoami(a, again)).status).toBe(200);
    const warm = (await status(a)).introspections;
    expect((await whoami(a, again)).status).toBe(200);
    expect((await status(a)).introspections).toBe(warm);
  });
});

describe("introspection with a resource's credentials", () => {
  const introspect = (auth: string, token: string) =>
    request(server.url).post("/token/introspection").set("authorization", auth).type("form").send({ token });

  it("answers active only for keys that work at that resource, with what the SDK needs", async () => {
    const forA = await mint([a.url]);
    const forB = await mint([b.url]);
    const everywhere = await mint(undefined);
    const atA = await introspect(basic(a.clientId, a.clientSecret), forA).expect(200);
    expect(atA.body).toMatchObject({ active: true, sub: userId, username: person.email, aud: [a.url], client_id: "keyward" });
    expect(atA.body.exp).toBeGreaterThan(Date.now() / 1000);
    expect(typeof atA.body.scope).toBe("string");
    expect(atA.body.organization_id).toBeTruthy();
    expect(atA.headers["cache-control"]).toBe("no-store");
    expect((await introspect(basic(a.clientId, a.clientSecret), forB).expect(200)).body).toEqual({ active: false });
    expect((await introspect(basic(b.clientId, b.clientSecret), forA).expect(200)).body).toEqual({ active: false });
    expect((await introspect(basic(a.clientId, a.clientSecret), everywhere).expect(200)).body.active).toBe(true);
    expect((await introspect(basic(a.clientId, a.clientSecret), "kw_user_garbage").expect(200)).body).toEqual({ active: false });
    // a key bound to A is refused at B's server
    expect((await whoami(b, forA)).status).toBe(401);
  });

  it("reports a key's real expiry as exp (the verifier holds it no longer), and an expired key as inactive", async () => {
    const expiresAt = new Date(Date.now() + 3 * 24 * 3600_000);
    const raw = (
      await server.services.keys.mint({ userId, label: "expiring", source: "portal", resources: [a.url], expiresAt }, BY_OPERATOR)
    ).raw;
    const answer = await introspect(basic(a.clientId, a.clientSecret), raw).expect(200);
    expect(answer.body.exp).toBe(Math.floor(expiresAt.getTime() / 1000));
    const row = await server.services.db.apiKey.findFirstOrThrow({ where: { hash: hashKey(raw) } });
    await server.services.db.apiKey.update({ where: { id: row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await introspect(basic(a.clientId, a.clientSecret), raw).expect(200)).body).toEqual({ active: false });
  });

  it("client_secret_post works; both methods at once is 400; bad or missing credentials are 401 invalid_client with a challenge", async () => {
    const key = await mint([a.url]);
    const post = await request(server.url)
      .post("/token/introspection")
      .type("form")
      .send({ token: key, client_id: a.clientId, client_secret: a.clientSecret })
      .expect(200);
    expect(post.body.active).toBe(true);
    await request(server.url)
      .post("/token/introspection")
      .set("authorization", basic(a.clientId, a.clientSecret))
      .type("form")
      .send({ token: key, client_id: a.clientId, client_secret: a.clientSecret })
      .expect(400);
    for (const auth of [basic(a.clientId, "wrong"), basic(a.clientId, b.clientSecret), basic("rsc_0000000000000000000000", "x")]) {
      const res = await introspect(auth, key).expect(401);
      expect(res.body.error).toBe("invalid_client");
      expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
    }
    const posted = await request(server.url)
      .post("/token/introspection")
      .type("form")
      .send({ token: key, client_id: a.clientId, client_secret: "wrong" })
      .expect(401);
    expect(posted.body.error).toBe("invalid_client");
    // no token: 400 invalid_request, not a 500
    expect((await introspect(basic(a.clientId, a.clientSecret), "").expect(400)).body.error).toBe("invalid_request");
    // an ordinary client still goes to oidc-provider (unknown client: 401 invalid_client there)
    expect((await introspect(basic("dcr_unknown", "x"), key).expect(401)).body.error).toBe("invalid_client");
  });

  it("the secret is not stored in clear anywhere; rotation ends the old credentials, removal ends them too", async () => {
    const resource = await server.services.db.resource.findUnique({ where: { slug: "files" } });
    expect(resource!.credentialHash).toBe(hashKey(a.clientSecret));
    expect(JSON.stringify(await server.services.db.resource.findMany())).not.toContain(a.clientSecret);
    const c = await server.services.resources.add({ slug: "gone", name: "Gone", external: "http://127.0.0.1:9/mcp" }, BY_CLI);
    const key = await mint(undefined);
    const old = c.credentials!;
    const { credentials: fresh } = await server.services.resources.rotateCredentials("gone", BY_CLI);
    await introspect(basic(old.clientId, old.clientSecret), key).expect(401);
    expect((await introspect(basic(fresh.clientId, fresh.clientSecret), key).expect(200)).body.active).toBe(true);
    await server.services.resources.remove("gone", BY_CLI);
    await introspect(basic(fresh.clientId, fresh.clientSecret), key).expect(401);
  });
});

/** Reads an SSE response until `stop` says so; the frames as {event, id, data}. */
async function readEvents(res: Response, stop: (frames: { event: string; id: string; data: string }[]) => boolean) {
  const frames: { event: string; id: string; data: string }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (!stop(frames)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim() ?? "";
      if (block.startsWith(":") || !block.includes("event:")) continue; // keep-alives, id-only frames
      frames.push({ event: field("event"), id: field("id"), data: field("data") });
    }
  }
  await reader.cancel();
  return frames;
}

describe("the event stream", () => {
  const events = (creds: { clientId: string; clientSecret: string }, slug: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/resources/${slug}/events`, {
      headers: { authorization: basic(creds.clientId, creds.clientSecret), ...headers },
    });

  it("sends ready, then each revocation with the key's SHA-256; a reconnect with Last-Event-ID resumes; a lost position resets", async () => {
    const raw = await mint([a.url], "streamed");
    const res = await events(a, "files");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const readyFrames = readEvents(res, (f) => f.some((x) => x.event === "revoked"));
    const id = (await server.services.keys.list(userId)).find((k) => k.label === "streamed")!.id;
    await new Promise((r) => setTimeout(r, 200));
    await server.services.keys.revoke({ kind: "own", userId, id }, { actor: { type: "cli", id: null }, via: "cli" });
    const frames = await readyFrames;
    expect(frames[0]!.event).toBe("ready");
    const revoked = frames.find((f) => f.event === "revoked")!;
    expect(JSON.parse(revoked.data)).toEqual({ sha256: hashKey(raw) });
    expect(JSON.stringify(frames)).not.toContain(raw);

    // resume from the ready position: the revocation again, then ready
    const resumed = await readEvents(await events(a, "files", { "last-event-id": frames[0]!.id }), (f) =>
      f.some((x) => x.event === "ready"),
    );
    expect(resumed.map((f) => f.event)).toContain("revoked");
    expect(resumed.find((f) => f.event === "revoked")!.data).toBe(revoked.data);
    expect(resumed.at(-1)!.event).toBe("ready");
    // B's stream never carries A's key
    const atB = await readEvents(await events(b, "tickets", { "last-event-id": frames[0]!.id }), (f) => f.some((x) => x.event === "ready"));
    expect(atB.map((f) => f.event)).toEqual(["ready"]);
    // a position from another history: reset
    const reset = await readEvents(await events(a, "files", { "last-event-id": "999999999999" }), (f) =>
      f.some((x) => x.event === "ready"),
    );
    expect(reset.map((f) => f.event)).toEqual(["reset", "ready"]);
  });

  it("refuses bad credentials (401), another resource's slug and route variants (404)", async () => {
    expect((await events({ clientId: a.clientId, clientSecret: "nope" }, "files")).status).toBe(401);
    const none = await fetch(`${server.url}/api/resources/files/events`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic /);
    expect((await events(a, "tickets")).status).toBe(404);
    expect((await events(a, "nothing")).status).toBe(404);
    for (const variant of [
      "/api/resources/files/events/",
      "/api/resources/FILES/events",
      "/API/resources/files/events",
      "/api/resources/files/Events",
    ]) {
      const res = await fetch(`${server.url}${variant}`, { headers: { authorization: basic(a.clientId, a.clientSecret) } });
      expect(res.status, variant).toBe(404);
      await res.body?.cancel();
    }
    expect((await events(a, "files", { "last-event-id": "abc" })).status).toBe(400);
  });

  it("records a role change and a removed membership as `changed` events for the member's keys", async () => {
    const raw = await mint([a.url], "member key");
    const position = Number((await readEvents(await events(a, "files"), (f) => f.length > 0))[0]!.id);
    const key = await server.services.db.apiKey.findFirstOrThrow({ where: { hash: hashKey(raw) } });
    await server.services.db.membership.updateMany({ where: { userId, organizationId: key.organizationId }, data: { role: "member" } });
    const after = await readEvents(await events(a, "files", { "last-event-id": String(position) }), (f) =>
      f.some((x) => x.event === "ready"),
    );
    expect(after.filter((f) => f.event === "changed").map((f) => JSON.parse(f.data).sha256)).toContain(hashKey(raw));
  });

  it("records a roll (the old key's end) as a `changed` event, so a cache lets go of the old key", async () => {
    const raw = await mint([a.url], "rolled key");
    const position = Number((await readEvents(await events(a, "files"), (f) => f.length > 0))[0]!.id);
    const key = await server.services.db.apiKey.findFirstOrThrow({ where: { hash: hashKey(raw) } });
    expect(
      await server.services.keys.roll({ kind: "own", userId, id: key.id }, "1h", { actor: { type: "cli", id: null }, via: "cli" }),
    ).not.toBeNull();
    const after = await readEvents(await events(a, "files", { "last-event-id": String(position) }), (f) =>
      f.some((x) => x.event === "ready"),
    );
    expect(after.filter((f) => f.event === "changed").map((f) => JSON.parse(f.data).sha256)).toContain(hashKey(raw));
  });

  it("records a removed user's keys as `removed` events (the database's cascade, written by the triggers)", async () => {
    const other = await signUp(server);
    const otherId = (await server.services.users.findByEmail(other.email))!.id;
    const raw = (await server.services.keys.mint({ userId: otherId, label: "leaving", source: "portal", resources: [a.url] }, BY_OPERATOR))
      .raw;
    const position = Number((await readEvents(await events(a, "files"), (f) => f.length > 0))[0]!.id);
    await server.services.db.user.delete({ where: { id: otherId } });
    const after = await readEvents(await events(a, "files", { "last-event-id": String(position) }), (f) =>
      f.some((x) => x.event === "ready"),
    );
    expect(after.filter((f) => f.event === "removed").map((f) => JSON.parse(f.data).sha256)).toContain(hashKey(raw));
  });
});

describe("keys for a resource server from the portal's JSON API, and the gateway's assertion", () => {
  it("binds a key to the resource server by slug or by its URL; it works there and not at the other", async () => {
    const manager = (await mintOnPage(person.agent, person.csrf, "manager")).raw;
    for (const name of ["files", a.url]) {
      const res = await request(server.url)
        .post("/api/api-keys")
        .set("Authorization", `Bearer ${manager}`)
        .set("Content-Type", "application/json")
        .send(JSON.stringify({ label: "for files", resources: [name] }));
      expect(res.status, res.text).toBe(201);
      expect(res.body.resources).toEqual([a.url]);
      expect((await whoami(a, res.body.key as string)).status).toBe(200);
      expect((await whoami(b, res.body.key as string)).status).toBe(401);
    }
  });

  it("verifyAssertion accepts the gateway's X-Keyward-Assertion for this resource, and refuses one for another", async () => {
    const raw = await mint([a.url], "asserted");
    const verified = await server.services.keys.verify(raw, { resource: a.url });
    if (!verified.ok) throw new Error(verified.reason);
    const signer = createAssertionSigner(server.services.secrets.tokenSigningJwks, server.url);
    const identity = {
      via: "key" as const,
      user: { id: verified.user.id, email: verified.user.email },
      app: null,
      organizationId: verified.organizationId,
      role: verified.role,
      key: verified.key,
      scopes: verified.scopes,
    };
    const good = await fetch(`${a.base}/test/assertion`, { method: "POST", body: await signer.sign(identity, a.url) });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ sub: userId, email: person.email, key_id: verified.key.id, iss: server.url, aud: a.url });
    const forB = await fetch(`${a.base}/test/assertion`, { method: "POST", body: await signer.sign(identity, b.url) });
    expect(forB.status).toBe(401);
    const tampered = await fetch(`${a.base}/test/assertion`, { method: "POST", body: `${await signer.sign(identity, a.url)}x` });
    expect(tampered.status).toBe(401);
  });
});

describe("bounded streams", () => {
  it(`at most ${MAX_STREAMS} open streams per resource: one more is 429 with Retry-After; closing one frees its place`, async () => {
    const auth = { authorization: basic(b.clientId, b.clientSecret) };
    const url = `${server.url}/api/resources/tickets/events`;
    const open: AbortController[] = [];
    // b's own verifier holds one already
    for (let i = 1; i < MAX_STREAMS; i++) {
      const c = new AbortController();
      const res = await fetch(url, { headers: auth, signal: c.signal });
      expect(res.status).toBe(200);
      open.push(c);
    }
    const over = await fetch(url, { headers: auth });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBeTruthy();
    open.pop()!.abort();
    await until(async () => {
      const res = await fetch(url, { headers: auth });
      const okNow = res.status === 200;
      await res.body?.cancel();
      return okNow;
    }, "a place to free up");
    for (const c of open) c.abort();
  });
});

describe("shutdown", () => {
  it("a stopping instance ends its open event streams, so its shutdown does not wait for them", { timeout: 30_000 }, async () => {
    const other = await startTestServer();
    try {
      const added = await other.services.resources.add({ slug: "files", name: "Files", external: "http://127.0.0.1:9/mcp" }, BY_CLI);
      const res = await fetch(`${other.url}/api/resources/files/events`, {
        headers: { authorization: basic(added.credentials!.clientId, added.credentials!.clientSecret) },
      });
      expect(res.status).toBe(200);
      const frames = readEvents(res, () => false); // reads until the stream ends
      await other.stop();
      expect((await frames).map((f) => f.event)).toEqual(["ready"]);
    } finally {
      await other.database.drop();
    }
  });
});

describe("pruned history", () => {
  it("housekeeping's pruning keeps the newest event; a reader whose position was pruned gets reset, then ready", async () => {
    const events = (headers: Record<string, string> = {}) =>
      fetch(`${server.url}/api/resources/files/events`, { headers: { authorization: basic(a.clientId, a.clientSecret), ...headers } });
    const old = Number((await readEvents(await events(), (f) => f.length > 0))[0]!.id);
    for (const label of ["p1", "p2"]) {
      const raw = await mint([a.url], label);
      await server.services.keys.revoke({ kind: "raw", raw }, { actor: { type: "cli", id: null }, via: "cli" });
    }
    const keyEvents = createKeyEvents(server.services.db);
    const newest = await keyEvents.position();
    expect(await keyEvents.prune(new Date(Date.now() + 86_400_000))).toBeGreaterThan(0);
    expect(await keyEvents.position()).toBe(newest);
    const reset = await readEvents(await events({ "last-event-id": String(old) }), (f) => f.some((x) => x.event === "ready"));
    expect(reset.map((f) => f.event)).toEqual(["reset", "ready"]);
    expect(reset.at(-1)!.id).toBe(String(newest));
    const current = await readEvents(await events({ "last-event-id": String(newest) }), (f) => f.some((x) => x.event === "ready"));
    expect(current.map((f) => f.event)).toEqual(["ready"]);
  });
});
