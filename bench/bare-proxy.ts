// The gateway bench's yardstick (npm run bench -- --gateway): a reverse proxy that does nothing but
// proxy, with the same plumbing as src/gateway/proxy.ts (node:http in, undici's request() to the
// upstream over a keep-alive Agent, the request body read whole, the answer piped back as it comes,
// headers flushed at once). No key, no checks, no assertion. Run on Keyward's CPU, it tells what the
// extra loopback hop itself costs on this machine, so the report can say how much of "gateway minus
// direct" is the hop and how much is Keyward's own work.
//
//   node --import tsx bench/bare-proxy.ts <port> <upstream URL>     prints "listening" when ready
import http from "node:http";
import { Agent, request, type Dispatcher } from "undici";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "host", "content-length"]);

const [port, upstream] = [Number(process.argv[2]), process.argv[3]];
if (!port || !upstream) throw new Error("usage: bare-proxy.ts <port> <upstream URL>");
const dispatcher = new Agent({ keepAliveTimeout: 4000, bodyTimeout: 0 });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    request(upstream, {
      dispatcher,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    }).then(
      (answer) => {
        res.statusCode = answer.statusCode;
        for (const [name, value] of Object.entries(answer.headers))
          if (value !== undefined && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
        if (answer.body.readableLength === 0) res.flushHeaders();
        answer.body.on("error", () => res.destroy());
        answer.body.pipe(res);
      },
      () => {
        res.statusCode = 502;
        res.end();
      },
    );
  });
});
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
