// Keys are stored as SHA-256: they carry 256 bits of entropy, so a fast hash is the right one
// (a slow password hash would only slow every request) and an indexed lookup finds the row.
import { hash, timingSafeEqual } from "node:crypto";

export function hashKey(raw: string): string {
  return hash("sha256", raw, "hex"); // one-shot: about twice as fast as createHash() on every request
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
