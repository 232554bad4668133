// Issue 22 item 4, end to end with the shipped proxy: a real nginx runs a copy of deploy/nginx.conf
// (only the upstream addresses and the listen port rewritten) in front of a Keyward configured like
// compose.yaml (TRUST_PROXY=true). A client that writes its own X-Forwarded-For must still land on
// one per-IP counter, and the audit trail must name the address nginx saw.
// Needs Debian's nginx (`apt-get install nginx-light`); skipped with a message when absent, except in CI.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, signUp, startTestServer, type TestServer } from "./support/server.js";
import { BUSY_ADDRESS_DELAY_MS } from "../src/web/login-limits.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
if (!NGINX) {
  if (process.env.CI === "true") throw new Error("nginx is missing: CI must install Debian's nginx-light (apt-get install -y nginx-light)");
  console.warn("test/nginx-proxy.test.ts: SKIPPED — nginx is not installed (apt-get install -y nginx-light)");
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** deploy/nginx.conf with the upstream servers pointed at `upstream` and `listen 80` at `port`; nothing else changed. */
function shippedConfigFor(upstream: string, port: number): string {
  const shipped = readFileSync(path.join(root, "deploy/nginx.conf"), "utf8");
  const rewritten = shipped.replace(/server keyward-[ab]:3000/g, `server ${upstream}`).replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  if (rewritten === shipped || !rewritten.includes(`server ${upstream}`) || !rewritten.includes(`listen 127.0.0.1:${port};`)) {
    throw new Error("deploy/nginx.conf changed shape: update this test's rewrite");
  }
  return rewritten;
}

describe.skipIf(!NGINX)("behind the shipped nginx (deploy/nginx.conf, TRUST_PROXY=true as in compose.yaml)", () => {
  let server: TestServer;
  let nginx: ChildProcess;
  let proxyUrl = "";
  let nginxLog = "";

  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: "true", REGISTRATION_RATE_LIMIT: "3", LOGIN_MAX_FAILURES: "2" });
    const port = await freePort();
    const dir = path.join(server.dir, "nginx");
    mkdirSync(path.join(dir, "logs"), { recursive: true });
    writeFileSync(path.join(dir, "keyward.conf"), shippedConfigFor(new URL(server.url).host, port));
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`).join("\n");
    writeFileSync(
      path.join(dir, "nginx.conf"),
      [
        "daemon off;",
        "master_process off;",
        `pid ${path.join(dir, "nginx.pid")};`,
        `error_log ${path.join(dir, "logs/error.log")} warn;`,
        "events { worker_connections 64; }",
        "http {",
        "  access_log off;",
        temp,
        `  include ${path.join(dir, "keyward.conf")};`,
        "}",
        "",
      ].join("\n"),
    );
    const check = spawnSync(NGINX!, ["-t", "-p", dir, "-c", path.join(dir, "nginx.conf")], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`nginx -t failed: ${check.stderr}`);
    nginx = spawn(NGINX!, ["-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    nginx.stderr!.on("data", (d: Buffer) => (nginxLog += d.toString()));
    proxyUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${proxyUrl}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (up === 200) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nginx did not come up: ${nginxLog}`);
  }, 60_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) nginx.kill("SIGTERM");
    await server?.close();
  });

  it("a spoofed X-Forwarded-For no longer escapes the per-IP registration limit", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(proxyUrl)
        .post("/reg")
        .set("Content-Type", "application/json")
        .set("X-Forwarded-For", `198.51.100.${i}`)
        .send("{}");
      statuses.push(res.status);
    }
    expect(statuses, nginxLog).toEqual([400, 400, 400, 429, 429, 429]);
  });

  it("the audit trail names the address nginx saw, not the one the client wrote", async () => {
    const user = await signUp(server);
    const agent = request.agent(proxyUrl);
    const form = await agent.get("/login").set("X-Forwarded-For", "6.6.6.6").expect(200);
    await agent
      .post("/login")
      .set("X-Forwarded-For", "6.6.6.6")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), email: user.email, password: user.password })
      .expect(303);
    const userId = (await server.services.users.findByEmail(user.email))!.id;
    const logins = await server.services.db.auditEvent.findMany({
      where: { userId, action: "login.succeeded" },
      orderBy: { createdAt: "desc" },
    });
    expect(logins[0]!.ip).toBe("127.0.0.1"); // nginx's $remote_addr for this test client
  });

  it("nor the per-IP log-in failure limit (over it, checks are slowed, never refused)", async () => {
    // 2 failures per account, 8 per address: fresh emails each time, so only the address limit can act on them.
    const results: { status: number; ms: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const agent = request.agent(proxyUrl);
      const form = await agent.get("/login").set("X-Forwarded-For", `203.0.113.${i}`).expect(200);
      const started = Date.now();
      const res = await agent
        .post("/login")
        .set("X-Forwarded-For", `203.0.113.${i}`)
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email: `nobody${i}@example.com`, password: "wrong password" });
      results.push({ status: res.status, ms: Date.now() - started });
    }
    expect(
      results.map((r) => r.status),
      nginxLog,
    ).toEqual(Array(10).fill(401));
    // One counter: the 9th and 10th are over the address's limit, so their checks waited (a fresh counter each would not).
    expect(
      results.slice(8).every((r) => r.ms >= BUSY_ADDRESS_DELAY_MS - 100),
      JSON.stringify(results),
    ).toBe(true);
  });
});
