// How a Keyward key looks: <prefix><43 base62 chars of 256-bit secret><6 base62 chars of CRC32>.
//   kw_user_3Rk…(43)…Qz1aB9Xc
// The prefix lets secret scanners recognise a key; the checksum lets us (and scanners) reject a
// typo or a made-up string offline, before any database work (GitHub's token format is the model).
// The checksum covers the prefix, so a key keeps verifying after an operator re-brands KEY_PREFIX.
import { crc32 } from "node:zlib";
import { randomInt } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const SECRET_LENGTH = 43; // 43 × log2(62) ≈ 256.03 bits
export const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const BODY = new RegExp(`^[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}$`);
const PREFIX = /^[a-z][a-z0-9]{0,15}_([a-z0-9]{1,16}_)?$/;
export const MAX_KEY_LENGTH = 34 + SECRET_LENGTH + CHECKSUM_LENGTH;

/** The regular expression secret scanners can use for keys with this prefix. */
export function keyPattern(prefix: string): string {
  return `${prefix}[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}`;
}

function base62(n: number, width: number): string {
  let out = "";
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = ALPHABET[v % 62] + out;
  return out.padStart(width, "0");
}

export function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(62)];
  return out;
}

function checksum(prefixAndSecret: string): string {
  return base62(crc32(prefixAndSecret), CHECKSUM_LENGTH);
}

export function generateKey(prefix: string): string {
  if (!PREFIX.test(prefix)) throw new Error(`invalid key prefix: ${prefix}`);
  const head = prefix + randomBase62(SECRET_LENGTH);
  return head + checksum(head);
}

export type FormatProblem = "empty" | "too_long" | "bad_prefix" | "bad_shape" | "bad_checksum";

/** Checks prefix, shape and checksum without touching the database. */
export function checkFormat(raw: string): FormatProblem | null {
  if (raw.length === 0) return "empty";
  if (raw.length > MAX_KEY_LENGTH) return "too_long";
  const cut = raw.lastIndexOf("_") + 1;
  if (cut === 0 || !PREFIX.test(raw.slice(0, cut))) return "bad_prefix";
  const body = raw.slice(cut);
  if (!BODY.test(body)) return "bad_shape";
  const head = raw.slice(0, raw.length - CHECKSUM_LENGTH);
  if (checksum(head) !== raw.slice(-CHECKSUM_LENGTH)) return "bad_checksum";
  return null;
}

export function last4(raw: string): string {
  return raw.slice(-4);
}
