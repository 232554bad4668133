// Reads the presented key from `Authorization: Bearer <key>`, `Authorization: DPoP <key>` (RFC 9449,
// with its `DPoP` proof headers) or `X-API-Key: <key>`.
// Every protected request runs this, so it reads Node's raw header list directly: no headers
// object is built for it and no regular expression runs. A header sent twice is refused (which
// of two keys would be the right one?) rather than silently taking the first. DPoP proof headers
// are only collected (every one sent: exactly one is valid, src/keys/verify/check-binding.ts).
import type { Ctx } from "./state.js";

/** `dpop`: the DPoP scheme; `bearer`: the Bearer scheme or X-API-Key. */
export type Scheme = "bearer" | "dpop";
export type Credential =
  { kind: "none" } | { kind: "key"; raw: string; scheme: Scheme; proofs: readonly string[] } | { kind: "malformed"; reason: string };

const NONE: Credential = Object.freeze({ kind: "none" });
const NO_PROOFS: readonly string[] = Object.freeze([]);
const malformed = (reason: string): Credential => ({ kind: "malformed", reason });
const BAD_AUTHORIZATION = "The Authorization header must be `Bearer <key>` or `DPoP <key>`";

/** The header values, as sent (a header name is case-insensitive); "twice" when a key header came twice. */
function presented(rawHeaders: readonly string[]): { authorization?: string; apiKey?: string; proofs?: string[] } | "twice" {
  let authorization: string | undefined;
  let apiKey: string | undefined;
  let proofs: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") {
      if (authorization !== undefined) return "twice";
      authorization = rawHeaders[i + 1]!;
    } else if (name.length === 9 && name.toLowerCase() === "x-api-key") {
      if (apiKey !== undefined) return "twice";
      apiKey = rawHeaders[i + 1]!;
    } else if (name.length === 4 && name.toLowerCase() === "dpop") {
      (proofs ??= []).push(rawHeaders[i + 1]!);
    }
  }
  return { authorization, apiKey, proofs };
}

const isSpace = (c: number) => c === 0x20 || c === 0x09;
/** Any whitespace or control character (a key never has one). */
const isBlank = (c: number) => c <= 0x20 || c === 0x7f;

/** The scheme of `Bearer <token>` or `DPoP <token>` (case-insensitively, followed by a space). */
function schemeOf(value: string): Scheme | undefined {
  if (value.length >= 8 && value.charCodeAt(6) === 0x20 && value.slice(0, 6).toLowerCase() === "bearer") return "bearer";
  if (value.length >= 6 && value.charCodeAt(4) === 0x20 && value.slice(0, 4).toLowerCase() === "dpop") return "dpop";
  return undefined;
}

/** `<scheme> <token>`: the scheme, one or more spaces, one token without whitespace, optional trailing spaces. */
function schemeToken(value: string, scheme: Scheme): string | undefined {
  let start = scheme === "bearer" ? 7 : 5;
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
  const { authorization, apiKey, proofs } = headers;
  let bearer: string | undefined;
  let scheme: Scheme = "bearer";
  if (authorization) {
    const named = schemeOf(authorization);
    bearer = named && schemeToken(authorization, named);
    if (bearer === undefined) return malformed(BAD_AUTHORIZATION);
    scheme = named!;
  }
  const key = apiKey?.trim();
  if (bearer && key && bearer !== key) {
    return malformed("Send the key in one header: Authorization or X-API-Key, not two different ones");
  }
  const raw = bearer || key;
  return raw ? { kind: "key", raw, scheme, proofs: proofs ?? NO_PROOFS } : NONE;
}

/** Whether the request presents a key at all (well-formed or not). */
export function hasCredential(ctx: Ctx): boolean {
  const headers = presented(ctx.req.rawHeaders);
  return headers === "twice" || !!(headers.authorization || headers.apiKey);
}
