// Client ID Metadata Documents for the tests: a loopback HTTP server that answers each path with the
// document made for it, 404 elsewhere. The client_ids are https URLs; with CIMD_ALLOW_LOOPBACK the
// server under test fetches loopback documents over http.
import http from "node:http";
import type { AddressInfo } from "node:net";

/** Makes the document at one path from its own URL (its client_id). */
export type DocumentMaker = (id: string) => unknown;

export interface ClientDocuments {
  server: http.Server;
  /** `https://127.0.0.1:<port>`: a path appended makes a client_id. */
  base: string;
  /** Requests answered so far, 404s included. */
  fetches: number;
}

/** Serves `documents` (path → maker, read at each request), with `headers` besides the JSON content type. */
export async function serveClientDocuments(
  documents: Map<string, DocumentMaker>,
  headers: Record<string, string> = {},
): Promise<ClientDocuments> {
  const docs: ClientDocuments = {
    server: http.createServer((req, res) => {
      docs.fetches++;
      const make = documents.get(req.url ?? "");
      if (!make) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(make(`${docs.base}${req.url}`)));
    }),
    base: "",
    fetches: 0,
  };
  await new Promise<void>((r) => docs.server.listen(0, "127.0.0.1", r));
  docs.base = `https://127.0.0.1:${(docs.server.address() as AddressInfo).port}`;
  return docs;
}
