// Real Keyward processes (node dist/main.js: the compiled build, as `npm start` and Docker run it) for
// the scale-out and shutdown tests, and a tiny cookie-keeping HTTP client that can talk to several of
// them as if they sat behind one balancer. dist/ is rebuilt first if src/ changed since it was built.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../../scripts/build.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Instance {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  /** SIGTERM (a clean shutdown), SIGKILL after 20 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** The checkout to run (default: this one, whose dist/ is rebuilt first if stale). The benchmark runs other checkouts too. */
  dir?: string;
  /** Node's arguments: the entry and its flags (default the compiled server, dist/main.js). */
  args?: string[];
  /** How long to wait for /readyz (default 30 s). */
  readyMs?: number;
}

export async function startInstance(env: Record<string, string>, options: StartOptions = {}): Promise<Instance> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const cwd = options.dir ?? root;
  if (cwd === root) ensureBuilt();
  const child = spawn(process.execPath, options.args ?? ["dist/main.js"], {
    cwd,
    // A short drain after SIGTERM (default 5 s) unless a test asks for one: test/shutdown.test.ts.
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "warn", SHUTDOWN_DRAIN_SECONDS: "0.2", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const deadline = Date.now() + (options.readyMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance exited early: ${output.join("")}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`instance not ready: ${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { url, child, output, exited, stop };
}

/** A browser-like client: one cookie jar for 127.0.0.1, whichever port it talks to. */
export class CookieClient {
  private jar = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      const [k, v] = [pair!.slice(0, i), pair!.slice(i + 1)];
      if (!v || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(k);
      else this.jar.set(k, v);
    }
    return res;
  }

  form(url: string, body: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body).toString(),
    });
  }
}
