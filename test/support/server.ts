// Test harness: a real Keyward server on 127.0.0.1 with its own SQLite database (a copy of the
// migrated template), its logs captured in memory so tests can prove no secret was logged.
import { Writable } from "node:stream";
import { createTestDatabase, type TestDatabase } from "./db.js";
import request from "supertest";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { BY_OPERATOR } from "./acting.js";

/** What the HTTP helpers below need of a server: its URL (a TestServer, or a spawned process such as the benchmark's). */
export type Reachable = Pick<RunningServer, "url">;

export interface TestServer extends RunningServer {
  config: Config;
  dir: string;
  /** The database this server uses (SQLite file or PostgreSQL database of this test run). */
  database: TestDatabase;
  /** SQLite runs only: the database file. */
  dbFile: string;
  /** Every log line the server wrote. */
  logs: string[];
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const { dir } = database;
  const dbFile = database.file ?? "";
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // Port 0 → a free port; ISSUER is fixed up once we know it.
  const base = { DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env };
  let config = loadConfig(base);
  let running = await startServer(config, createLogger("info", sink), { migrate: false });
  if (!env.ISSUER) {
    // Restart on the same port with the real base URL so metadata and challenges name it.
    const port = new URL(running.url).port;
    await running.stop();
    config = loadConfig({ ...base, PORT: port, ISSUER: `http://127.0.0.1:${port}` });
    running = await startServer(config, createLogger("info", sink), { migrate: false });
  }
  return {
    ...running,
    config,
    dir,
    database,
    dbFile,
    logs,
    async close() {
      await running.stop();
      await database.drop();
    },
  };
}

/** Stops the server and starts a new process-equivalent on the same database and port. */
export async function restartTestServer(server: TestServer): Promise<TestServer> {
  await server.stop();
  const sink = new Writable({
    write(chunk, _enc, cb) {
      server.logs.push(String(chunk));
      cb();
    },
  });
  const running = await startServer(server.config, createLogger("info", sink), { migrate: false });
  return {
    ...server,
    ...running,
    close: async () => {
      await running.stop();
      await server.database.drop();
    },
  };
}

/**
 * A second instance on `server`'s database (its SQLite file, or its PostgreSQL database and change
 * feed), as behind a balancer: its own free port, the first one's issuer, `env` added; its log is
 * dropped. Stop it before closing `server` (which drops the database).
 */
export async function startSecondInstance(server: TestServer, env: Record<string, string> = {}): Promise<RunningServer> {
  const quiet = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const config = loadConfig({
    DATABASE_URL: server.config.databaseUrl,
    ISSUER: server.config.baseUrl,
    PORT: "0",
    HOST: "127.0.0.1",
    ...env,
  });
  return startServer(config, createLogger("warn", quiet), { migrate: false });
}

/** A supertest agent that keeps cookies, like a browser. */
export function browser(server: Reachable) {
  return request.agent(server.url);
}

/** Pulls the CSRF token out of a rendered form. */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF token in page");
  return m[1]!;
}

let counter = 0;
export function uniqueEmail(prefix = "user"): string {
  return `${prefix}${Date.now()}${counter++}@example.com`;
}

/** Signs up a new user in a fresh browser and logs in; returns the agent (logged in) and its CSRF token. */
export async function signUp(server: Reachable, email = uniqueEmail(), password = "correct horse battery") {
  const agent = browser(server);
  const page = await agent.get("/signup").expect(200);
  const signedUp = await agent
    .post("/signup")
    .type("form")
    .send({ _csrf: csrfFrom(page.text), email, password })
    .expect(303);
  // Sign-up does not log in (its answer must not tell whether the email was taken): log in next.
  if (signedUp.headers.location?.startsWith("/login")) await logInWithPassword(agent, email, password);
  const keysPage = await agent.get("/app/account/api-keys").expect(200);
  return { agent, email, password, csrf: csrfFrom(keysPage.text) };
}

/** Logs `agent` in with a password through the log-in form (GET it, POST it: 303). */
export async function logInWithPassword(agent: ReturnType<typeof browser>, email: string, password: string): Promise<void> {
  const login = await agent.get("/login").expect(200);
  await agent
    .post("/login")
    .type("form")
    .send({ _csrf: csrfFrom(login.text), email, password })
    .expect(303);
}

/** A signed-up, logged-in user: their browser, email, password and the CSRF token of their pages. */
export type Person = Awaited<ReturnType<typeof signUp>>;

/** Mints a portal key through the account page; returns the raw key shown in the reveal banner. */
export async function mintOnPage(agent: ReturnType<typeof browser>, csrf: string, label = "test key", scopes: string[] = []) {
  // 303 → the one-time reveal
  const res = await agent.post("/app/account/api-keys").type("form").send({ _csrf: csrf, label, scopes }).redirects(1).expect(200);
  const m = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text);
  if (!m) throw new Error("no reveal banner");
  return { raw: m[1]!, html: res.text };
}

/** A signed-up person with their user id and a portal key of theirs minted by the operator (every scope). */
export async function signUpWithKey(server: TestServer) {
  const person = await signUp(server);
  const userId = (await server.services.users.findByEmail(person.email))!.id;
  const admin = (await server.services.keys.mint({ userId, label: "admin", source: "portal" }, BY_OPERATOR)).raw;
  return { person, userId, admin };
}
