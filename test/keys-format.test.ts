// Key format, checksum and hashing: pure functions, no database.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CHECKSUM_LENGTH, MAX_KEY_LENGTH, SECRET_LENGTH, checkFormat, generateKey, keyPattern, last4 } from "../src/keys/format.js";
import { digestKey, hashKey, hexOfDigest, sameHash } from "../src/keys/hash.js";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX = "kw_user_";

/** Replaces the character at i with a different base62 character. */
function typo(raw: string, i: number): string {
  const c = raw[i]!;
  const other = ALPHABET[(ALPHABET.indexOf(c) + 17) % 62]!;
  return raw.slice(0, i) + other + raw.slice(i + 1);
}

describe("generateKey", () => {
  it("is prefix + 43 base62 secret + 6 base62 checksum (57 characters for kw_user_)", () => {
    const raw = generateKey(PREFIX);
    expect(SECRET_LENGTH).toBe(43);
    expect(CHECKSUM_LENGTH).toBe(6);
    expect(raw.startsWith("kw_user_")).toBe(true);
    expect(raw).toHaveLength(8 + 43 + 6);
    expect(raw).toMatch(/^kw_user_[0-9A-Za-z]{49}$/);
    expect(new RegExp(`^${keyPattern(PREFIX)}$`).test(raw)).toBe(true);
    expect(checkFormat(raw)).toBeNull();
  });

  it("ends with the base62 CRC32 of prefix + secret, zero-padded to 6 characters", () => {
    for (let n = 0; n < 50; n++) {
      const raw = generateKey(PREFIX);
      const head = raw.slice(0, -6);
      let value = 0;
      for (const ch of raw.slice(-6)) value = value * 62 + ALPHABET.indexOf(ch);
      expect(value).toBe(crc32(head));
    }
  });

  it("uses the whole base62 alphabet and never repeats", () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let n = 0; n < 200; n++) {
      const raw = generateKey(PREFIX);
      seen.add(raw);
      for (const c of raw.slice(PREFIX.length, PREFIX.length + SECRET_LENGTH)) chars.add(c);
    }
    expect(seen.size).toBe(200);
    expect(chars.size).toBe(62);
  });

  it("takes any valid prefix and refuses invalid ones", () => {
    expect(generateKey("bb_")).toMatch(/^bb_[0-9A-Za-z]{49}$/);
    expect(generateKey("acme_live_")).toMatch(/^acme_live_[0-9A-Za-z]{49}$/);
    for (const bad of ["", "KW_", "kw", "_kw_", "kw-user_", "1kw_"]) expect(() => generateKey(bad)).toThrow(/invalid key prefix/);
  });

  it("last4 is the last four characters", () => {
    const raw = generateKey(PREFIX);
    expect(last4(raw)).toBe(raw.slice(-4));
    expect(last4(raw)).toHaveLength(4);
  });
});

describe("checkFormat rejects", () => {
  const raw = generateKey(PREFIX);

  it("every single-character typo, anywhere in secret or checksum", () => {
    for (let i = PREFIX.length; i < raw.length; i++) expect(checkFormat(typo(raw, i)), `position ${i}`).toBe("bad_checksum");
  });

  it("a case flip of one character", () => {
    const i = [...raw].findIndex((c, j) => j >= PREFIX.length && /[a-zA-Z]/.test(c));
    const c = raw[i]!;
    const flipped = raw.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + raw.slice(i + 1);
    expect(checkFormat(flipped)).toBe("bad_checksum");
  });

  it("every swap of two adjacent different characters", () => {
    let swaps = 0;
    for (let i = PREFIX.length; i < raw.length - 1; i++) {
      if (raw[i] === raw[i + 1]) continue;
      const swapped = raw.slice(0, i) + raw[i + 1] + raw[i] + raw.slice(i + 2);
      expect(checkFormat(swapped), `swap at ${i}`).toBe("bad_checksum");
      swaps++;
    }
    expect(swaps).toBeGreaterThan(30);
  });

  it("a wrong prefix (the checksum covers it), and malformed prefixes", () => {
    expect(checkFormat("kw_usr_" + raw.slice(PREFIX.length))).toBe("bad_checksum");
    expect(checkFormat("bb_" + raw.slice(PREFIX.length))).toBe("bad_checksum");
    expect(checkFormat("KW_USER_" + raw.slice(PREFIX.length))).toBe("bad_prefix");
    expect(checkFormat(raw.slice(PREFIX.length))).toBe("bad_prefix"); // no prefix at all
    expect(checkFormat("kw-user-" + raw.slice(PREFIX.length))).toBe("bad_prefix");
  });

  it("keys that are too long or too short", () => {
    expect(checkFormat(raw + "a")).toBe("bad_shape");
    expect(checkFormat(raw.slice(0, -1))).toBe("bad_shape");
    expect(checkFormat(PREFIX + "a".repeat(200))).toBe("too_long");
    expect(checkFormat("x".repeat(MAX_KEY_LENGTH + 1))).toBe("too_long");
  });

  it("empty strings and garbage", () => {
    expect(checkFormat("")).toBe("empty");
    expect(checkFormat("hello")).toBe("bad_prefix");
    expect(checkFormat("kw_user_")).toBe("bad_shape");
    expect(checkFormat(PREFIX + "!".repeat(49))).toBe("bad_shape");
    expect(checkFormat(PREFIX + "a".repeat(49))).toBe("bad_checksum");
    expect(checkFormat(` ${raw}`)).toBe("bad_prefix");
    expect(checkFormat(`${raw} `)).toBe("bad_shape");
  });

  it("accepts a valid key minted with another prefix (the checksum still matches)", () => {
    expect(checkFormat(generateKey("bb_"))).toBeNull();
  });
});

describe("hashKey", () => {
  it("is the SHA-256 hex digest of the raw key", () => {
    const raw = generateKey(PREFIX);
    const hash = hashKey(raw);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(createHash("sha256").update(raw).digest("hex"));
    expect(hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("is stable and differs between keys", () => {
    const a = generateKey(PREFIX);
    const b = generateKey(PREFIX);
    expect(hashKey(a)).toBe(hashKey(a));
    expect(hashKey(a)).not.toBe(hashKey(b));
    expect(hashKey(a)).not.toContain(a.slice(PREFIX.length, PREFIX.length + 10));
  });

  it("digestKey is the same SHA-256 as 32 one-byte characters; hexOfDigest gives the stored form back", () => {
    const raw = generateKey(PREFIX);
    const digest = digestKey(raw);
    expect(digest).toHaveLength(32);
    expect(Buffer.from(digest, "latin1")).toEqual(createHash("sha256").update(raw).digest());
    expect(hexOfDigest(digest)).toBe(hashKey(raw));
    expect(hexOfDigest(digestKey("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("sameHash compares a stored hex hash with a digest", () => {
    const h = hashKey("x");
    expect(sameHash(h, digestKey("x"))).toBe(true);
    expect(sameHash(h, digestKey("y"))).toBe(false);
    expect(sameHash(h.slice(0, 62), digestKey("x"))).toBe(false);
    expect(sameHash(h, digestKey("x").slice(0, 31))).toBe(false);
    expect(sameHash(h, h)).toBe(false); // a hex string is not a digest
    expect(sameHash("", "")).toBe(false);
  });
});
