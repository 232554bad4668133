// Keys are stored as SHA-256: they carry 256 bits of entropy, so a fast hash is the right one
// (a slow password hash would only slow every request) and an indexed lookup finds the row.
// Two spellings of the same digest: the ApiKey.hash column holds it in hex (hashKey); verification
// works with the 32 digest bytes as a 32-character one-byte string (digestKey), which is cheaper to
// make and to look up in the verification cache on every request, and turns into hex only for a
// database read (hexOfDigest).
import { hash, timingSafeEqual } from "node:crypto";

/** The stored form (ApiKey.hash): the SHA-256 of the key in lowercase hex. */
export function hashKey(raw: string): string {
  return hash("sha256", raw, "hex"); // one-shot: about twice as fast as createHash() on every request
}

/** The in-memory form: the SHA-256 of the key as 32 characters, one per digest byte (latin1). */
export function digestKey(raw: string): string {
  return hash("sha256", raw, "binary"); // "binary" is Node's name for latin1: one character per byte
}

/** A digestKey() digest in the stored form (what hashKey() gives for the same key). */
export function hexOfDigest(digest: string): string {
  return Buffer.from(digest, "latin1").toString("hex");
}

/** Constant-time comparison of a stored hex hash with a digestKey() digest. */
export function sameHash(storedHex: string, digest: string): boolean {
  const x = Buffer.from(storedHex, "hex");
  const y = Buffer.from(digest, "latin1");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}
