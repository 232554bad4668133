// Reads the presented key from `Authorization: Bearer <key>` or `X-API-Key: <key>`.
// Every protected request runs this, so it reads Node's raw header list directly: no headers
// object is built for it and no regular expression runs. A header sent twice is refused (which
// of two keys would be the right one?) rather than silently taking the first.
import type { Ctx } from "./state.js";

export type Credential = { kind: "none" } | { kind: "key"; raw: string } | { kind: "malformed"; reason: string };

const NONE: Credential = Object.freeze({ kind: "none" });
const malformed = (reason: string): Credential => ({ kind: "malformed", reason });
const BAD_AUTHORIZATION = "The Authorization header must be `Bearer <key>`";

/** The two header values, as sent (a header name is case-insensitive); "twice" when one came twice. */
function presented(rawHeaders: readonly string[]): { authorization?: string; apiKey?: string } | "twice" {
  let authorization: string | undefined;
  let apiKey: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") {
      if (authorization !== undefined) return "twice";
      authorization = rawHeaders[i + 1]!;
    } else if (name.length === 9 && name.toLowerCase() === "x-api-key") {
      if (apiKey !== undefined) return "twice";
      apiKey = rawHeaders[i + 1]!;
    }
  }
  return { authorization, apiKey };
}

const isSpace = (c: number) => c === 0x20 || c === 0x09;
/** Any whitespace or control character (a key never has one). */
const isBlank = (c: number) => c <= 0x20 || c === 0x7f;

/** `Bearer <token>`: the scheme case-insensitively, one or more spaces, one token without whitespace, optional trailing spaces. */
function bearerToken(value: string): string | undefined {
  if (value.length < 8 || value.slice(0, 6).toLowerCase() !== "bearer" || value.charCodeAt(6) !== 0x20) return undefined;
  let start = 7;
  while (start < value.length && value.charCodeAt(start) === 0x20) start++;
  let end = value.length;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  for (let i = start; i < end; i++) if (isBlank(value.charCodeAt(i))) return undefined;
  return value.slice(start, end);
}

export function readCredential(ctx: Ctx): Credential {
  const headers = presented(ctx.req.rawHeaders);
  if (headers === "twice") return malformed("Send the key once: one Authorization or X-API-Key header");
  const { authorization, apiKey } = headers;
  let bearer: string | undefined;
  if (authorization) {
    bearer = bearerToken(authorization);
    if (bearer === undefined) return malformed(BAD_AUTHORIZATION);
  }
  const key = apiKey?.trim();
  if (bearer && key && bearer !== key) {
    return malformed("Send the key in one header: Authorization or X-API-Key, not two different ones");
  }
  const raw = bearer || key;
  return raw ? { kind: "key", raw } : NONE;
}

/** Whether the request presents a key at all (well-formed or not). */
export function hasCredential(ctx: Ctx): boolean {
  const headers = presented(ctx.req.rawHeaders);
  return headers === "twice" || !!(headers.authorization || headers.apiKey);
}
