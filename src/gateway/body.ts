// The POST body, read into memory up to the gateway's limit: the scope check needs the whole
// JSON-RPC message before the upstream sees a byte of it. Over the limit → 413 (by Content-Length
// before reading, or as soon as the bytes read pass it); not UTF-8 JSON, or holding text we do not
// accept → 400. The bytes forwarded are exactly the bytes checked.
import type { IncomingMessage } from "node:http";
import { refuseIllFormedBody } from "../http/body.js";
import { GatewayError } from "./errors.js";

export interface ReadBody {
  raw: Buffer;
  json: unknown;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<ReadBody> {
  const tooLarge = () =>
    new GatewayError(413, "request_too_large", `The request body is larger than ${Math.floor(maxBytes / 1024)} kB`, {
      Connection: "close",
    });
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw tooLarge();
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off("data", onData).off("end", onEnd).off("error", done).off("aborted", onAborted).off("close", onAborted);
      if (err) {
        // Not destroyed: the client still hears the 413, and the connection closes after it (Connection: close).
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return done(tooLarge());
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onAborted = () => done(new GatewayError(400, "invalid_request", "The request body was cut short"));
    req.on("data", onData).on("end", onEnd).on("error", done).on("aborted", onAborted).on("close", onAborted);
  });
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(raw));
  } catch {
    throw new GatewayError(400, "invalid_request", "The request body is not a JSON-RPC message in UTF-8 JSON");
  }
  try {
    refuseIllFormedBody(json);
  } catch (err) {
    throw new GatewayError(400, "invalid_request", (err as Error).message);
  }
  return { raw, json };
}
