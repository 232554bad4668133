// An MCP client's loopback redirect URI (RFC 8252): a tiny HTTP server that captures what comes back
// to /callback, keyed by state, for tests that play the user in a browser.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CallbackServer {
  redirectUri: string;
  /** Resolves with the query of the callback request carrying this state. */
  waitFor(state: string): Promise<URLSearchParams>;
  close(): Promise<void>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const arrived = new Map<string, URLSearchParams>();
  const waiting = new Map<string, (q: URLSearchParams) => void>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    const state = url.searchParams.get("state") ?? "";
    arrived.set(state, url.searchParams);
    waiting.get(state)?.(url.searchParams);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", Connection: "close" });
    res.end("<!doctype html><title>Connected</title><h1>Authorization complete</h1><p>You can close this window.</p>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    waitFor(state) {
      const done = arrived.get(state);
      if (done) return Promise.resolve(done);
      return new Promise((resolve) => waiting.set(state, resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
