// Log-in attempts as a browser makes them (GET the form, POST it), for the tests of the log-in
// limits (test/login-limits.test.ts, test/login-lockout.test.ts).
import { browser, csrfFrom, uniqueEmail, type TestServer } from "./server.js";

type Agent = ReturnType<typeof browser>;

/**
 * One log-in POST from `agent` (a fresh browser by default), optionally from a forwarded address
 * (the server must trust the proxy); the response is not followed. `ms`: how long the POST took.
 */
export async function loginAttempt(server: TestServer, email: string, password: string, opts: { agent?: Agent; ip?: string } = {}) {
  const agent = opts.agent ?? browser(server);
  const withIp = <T extends { set(name: string, value: string): T }>(r: T) => (opts.ip ? r.set("X-Forwarded-For", opts.ip) : r);
  const form = await withIp(agent.get("/login")).expect(200);
  const started = Date.now();
  const res = await withIp(agent.post("/login"))
    .type("form")
    .send({ _csrf: csrfFrom(form.text), email, password })
    .redirects(0);
  return { agent, res, ms: Date.now() - started };
}

/** Failed log-ins on made-up emails until the address (the shared 127.0.0.1 unless `ip`) is over its limit (4 × LOGIN_MAX_FAILURES). */
export async function exhaustAddress(server: TestServer, ip?: string): Promise<void> {
  for (let i = 0; i <= server.config.loginMaxFailures * 4; i++) await loginAttempt(server, uniqueEmail("sprayed"), "Winter2026!", { ip });
}

export const userIdOf = async (server: TestServer, email: string): Promise<string> => (await server.services.users.findByEmail(email))!.id;

/** The account's `login.failed` audit rows: one per password check that ran and failed. */
export const failedLogins = async (server: TestServer, email: string): Promise<number> =>
  server.services.db.auditEvent.count({ where: { userId: await userIdOf(server, email), action: "login.failed" } });
