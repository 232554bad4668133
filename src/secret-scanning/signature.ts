// How a secret-scanning report proves where it came from, checked on the raw body bytes:
//  - a shared secret: X-Keyward-Signature: sha256=<hex HMAC-SHA256(body)> (constant-time compare);
//  - GitHub's partner program: Github-Public-Key-Signature (base64 ECDSA-SHA256 over the body),
//    verified against the public keys the operator configured (GitHub publishes them at
//    https://api.github.com/meta/public_keys/secret_scanning; this server does not fetch them).
import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from "node:crypto";

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/** Every PEM public key in the text (literal "\n" escapes allowed, as env vars often carry them). */
export function parsePublicKeys(text: string): KeyObject[] {
  const blocks = text.replace(/\\n/g, "\n").match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error("no -----BEGIN PUBLIC KEY----- block found");
  return blocks.map((pem, i) => {
    try {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== "ec") throw new Error("not an EC key");
      return key;
    } catch (err) {
      throw new Error(`public key ${i + 1} is unusable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
  });
}

export function hmacSignature(secret: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function validHmac(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(hmacSignature(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function validEcdsa(keys: readonly KeyObject[], body: Buffer, signatureB64: string | undefined): boolean {
  if (!signatureB64 || keys.length === 0 || signatureB64.length > 1024) return false;
  const signature = Buffer.from(signatureB64, "base64");
  if (signature.length === 0) return false;
  return keys.some((key) => {
    try {
      return verify("sha256", body, key, signature);
    } catch {
      return false;
    }
  });
}
