// What a caller may ask for when minting: validated the same way by the page, the JSON API and the CLI.
import { z } from "zod";

export const MAX_LABEL_LENGTH = 100;
export const MAX_SCOPES = 50;

/** Labels are plain text: trimmed, no control characters, at most 100 characters. */
export const labelSchema = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .max(MAX_LABEL_LENGTH, `Label must be at most ${MAX_LABEL_LENGTH} characters`)
      .regex(/^[^\p{Cc}\p{Cf}]*$/u, "Label must not contain control characters"),
  );

/** Scopes come as an array or one space/comma-separated string; duplicates are dropped. */
export const scopesSchema = z
  .union([z.string().max(2000), z.array(z.string().max(100)).max(MAX_SCOPES)])
  .transform((v) => [...new Set((Array.isArray(v) ? v : v.split(/[\s,]+/)).map((s) => s.trim()).filter(Boolean))])
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9:._-]{1,100}$/, "Scope names use letters, digits and : . _ -")).max(MAX_SCOPES));

/** RFC 9449 `dpop_jkt`: the base64url SHA-256 JWK thumbprint (RFC 7638) of the key pair a key is bound to. */
export const dpopJktSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "dpop_jkt must be the base64url SHA-256 JWK thumbprint (RFC 7638) of your DPoP public key");

export function scopeCatalogueError(scopes: string[], catalogue: readonly string[]): string | null {
  const unknown = scopes.filter((s) => !catalogue.includes(s));
  return unknown.length
    ? `Unknown scope${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}. Known scopes: ${catalogue.join(", ")}`
    : null;
}

export const MAX_KEY_RESOURCES = 20;

/**
 * The resources a key is bound to: absolute http(s) URLs without spaces (the column separates them
 * with spaces), duplicates dropped; null: every resource. Which URLs exist is the caller's to check
 * (src/resources/).
 */
export const resourcesSchema = z
  .array(
    z
      .string()
      .max(500)
      .regex(/^https?:\/\/\S+$/, "A resource is an http(s) URL"),
  )
  .min(1, "Name at least one resource, or none for every resource")
  .max(MAX_KEY_RESOURCES, `At most ${MAX_KEY_RESOURCES} resources per key`)
  .transform((list) => [...new Set(list)])
  .nullable();
