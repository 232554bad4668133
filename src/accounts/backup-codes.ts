// 2FA backup codes: 10 random codes shown once, stored as HMAC-SHA256 under a server key (a
// database dump alone cannot be brute-forced offline), each usable a single time.
import { createHmac, hkdfSync, randomInt } from "node:crypto";

export const BACKUP_CODE_COUNT = 10;
// Crockford base32 (no i, l, o, u): 10 characters = 50 bits per code.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LENGTH = 10;

/** A fresh code as shown to the user: `xxxxx-xxxxx`. */
export function newBackupCode(): string {
  let s = "";
  for (let i = 0; i < LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** What the user typed → the canonical code, or null when it cannot be one. */
export function normaliseBackupCode(input: string): string | null {
  const s = input
    .toLowerCase()
    .replace(/[\s-]/g, "")
    .replace(/[ilo]/g, (c) => (c === "o" ? "0" : "1"));
  return s.length === LENGTH && [...s].every((c) => ALPHABET.includes(c)) ? s : null;
}

export function backupCodeHasher(masterKey: Buffer): (userId: string, normalised: string) => string {
  const key = Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "keyward backup codes", 32));
  return (userId, normalised) => createHmac("sha256", key).update(`${userId}:${normalised}`).digest("hex");
}
