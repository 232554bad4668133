// `npm run bench -- --gateway --stdio`: what the gateway adds to a stdio MCP server
// (src/gateway/stdio/). The same server, @modelcontextprotocol/server-everything in stdio mode, is
// called two ways with the MCP SDK client, one call at a time: directly over stdio (the SDK's
// StdioClientTransport starting it, as a local host does) and through Keyward at <ISSUER>/mcp/<slug>
// (Streamable HTTP, a real key verified on every request, the user's own process behind it). Rounds
// take turns (direct first in even rounds, the gateway first in odd ones) because this shared
// machine's speed changes from one second to the next; the added cost is the median of the per-round
// differences of the medians. Loopback only, bounded: --rounds × --calls calls per side.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createBenchDatabase, type BenchDatabase } from "./database.js";
import { parseBenchArgs, positive } from "./options.js";
import { startInstance, stopAll } from "./servers.js";
import { mintKey, session } from "./oauth-client.js";

const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[gateway-stdio +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

const HELP = `npm run bench -- --gateway --stdio [options]   (SQLite; the stdio bridge does not touch the database per call beyond verification)
  --rounds <n>   rounds; in each, each side makes --calls sequential tools/call echo calls (default 6)
  --calls <n>    calls per side per round (default 300)
  --out <file>   also write the Markdown report there`;

const EVERYTHING = path.resolve("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const SLUG = "everything-stdio";

interface Options {
  rounds: number;
  calls: number;
  out?: string;
}

function options(argv: string[]): Options {
  const values = parseBenchArgs(argv, HELP, {
    gateway: { type: "boolean" },
    stdio: { type: "boolean" },
    rounds: { type: "string" },
    calls: { type: "string" },
    out: { type: "string" },
  });
  return {
    rounds: Math.round(positive(values.rounds, "rounds", 6, 100)),
    calls: Math.round(positive(values.calls, "calls", 300, 10_000)),
    out: typeof values.out === "string" ? values.out : undefined,
  };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function timeCalls(client: Client, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await client.callTool({ name: "echo", arguments: { message: `call ${i}` } });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

export async function gatewayStdioMain(argv: string[]): Promise<void> {
  const cfg = options(argv);
  let db: BenchDatabase | undefined;
  const clients: Client[] = [];
  try {
    db = await createBenchDatabase("sqlite");
    const instance = await startInstance({ DATABASE_URL: db.url }, undefined, false);
    const now = new Date().toISOString();
    await db.query(
      `INSERT INTO "Resource" (id, slug, name, command, env, "toolScopes", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, '{}', '{}', ?, ?)`,
      ["res_bench_stdio", SLUG, "Everything over stdio (bench)", JSON.stringify(["node", EVERYTHING, "stdio"]), now, now],
    );
    const { key } = await mintKey(await session(instance.url), "gateway stdio bench");
    const direct = new Client({ name: "bench-direct", version: "1" });
    await direct.connect(new StdioClientTransport({ command: "node", args: [EVERYTHING, "stdio"], stderr: "ignore" }));
    const gateway = new Client({ name: "bench-gateway", version: "1" });
    await gateway.connect(
      new StreamableHTTPClientTransport(new URL(`${instance.url}/mcp/${SLUG}`), {
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      }),
    );
    clients.push(direct, gateway);
    log(`Keyward on ${instance.url}; warm-up`);
    await timeCalls(direct, 50);
    await timeCalls(gateway, 50);
    const sides = { direct: [] as number[][], gateway: [] as number[][] };
    for (let round = 0; round < cfg.rounds; round++) {
      const order = round % 2 === 0 ? (["direct", "gateway"] as const) : (["gateway", "direct"] as const);
      for (const side of order) sides[side].push(await timeCalls(side === "direct" ? direct : gateway, cfg.calls));
      log(
        `round ${round + 1}/${cfg.rounds}: median direct ${ms(quantile(sides.direct.at(-1)!, 0.5))}, gateway ${ms(quantile(sides.gateway.at(-1)!, 0.5))}`,
      );
    }
    const all = (rounds: number[][]) => rounds.flat().sort((a, b) => a - b);
    const [d, g] = [all(sides.direct), all(sides.gateway)];
    const added = median(sides.gateway.map((r, i) => quantile(r, 0.5) - quantile(sides.direct[i]!, 0.5)));
    const addedP99 = median(sides.gateway.map((r, i) => quantile(r, 0.99) - quantile(sides.direct[i]!, 0.99)));
    const report = [
      `### stdio: ${new Date().toISOString()}, ${cfg.rounds} rounds of ${cfg.calls} sequential tools/call echo per side (SQLite)`,
      "",
      "| | median | p90 | p99 |",
      "|---|---|---|---|",
      `| direct over stdio (SDK StdioClientTransport) | ${ms(quantile(d, 0.5))} | ${ms(quantile(d, 0.9))} | ${ms(quantile(d, 0.99))} |`,
      `| through the gateway (Streamable HTTP → the user's process) | ${ms(quantile(g, 0.5))} | ${ms(quantile(g, 0.9))} | ${ms(quantile(g, 0.99))} |`,
      `| added per call (median of per-round differences) | ${ms(added)} | | ${ms(addedP99)} |`,
    ].join("\n");
    process.stdout.write(`${report}\n`);
    if (cfg.out) writeFileSync(cfg.out, `${report}\n`);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await stopAll();
    await db?.drop();
  }
}
