// Upstream identity providers as the operator declares them (UPSTREAM_PROVIDERS_FILE or
// UPSTREAM_PROVIDERS, a JSON array), checked once at start: a bad entry stops the start with a
// message naming the entry and the field. See docs/upstream-login.md.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { roleSchema } from "../orgs/roles.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** https, or plain http on loopback only (a provider on this very machine, as in the tests). */
export function isAllowedIssuer(value: string): boolean {
  const url = URL.parse(value);
  if (!url || url.username || url.password || url.search || url.hash) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
}

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a domain name such as example.com");

export const upstreamProviderSchema = z.strictObject({
  /** Lowercase letters, digits and '-': the last segment of /login/upstream/<id>; never change it (identities are linked by it). */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "id must be 1-32 lowercase letters, digits or '-'"),
  /** Shown on the log-in page: "Continue with <name>". */
  name: z.string().trim().min(1).max(60),
  issuer: z.string().refine(isAllowedIssuer, "issuer must be an https URL (http only on 127.0.0.1 / localhost), without query or fragment"),
  clientId: z.string().min(1).max(500),
  clientSecret: z.string().min(1).max(2000),
  /** How the client secret is sent to the token endpoint. */
  tokenEndpointAuthMethod: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "a scope has no spaces or quotes"))
    .default(["openid", "email", "profile"])
    .refine((s) => s.includes("openid"), "scopes must include openid"),
  /** Only people whose verified email is at one of these domains may log in (checked at every log-in); none = any. */
  allowedDomains: z.array(domain).max(100).default([]),
  /** Whether a first log-in may create a Keyward account (false: only existing accounts, linked by verified email). */
  createAccounts: z.boolean().default(true),
  /** The organisation (org_…) accounts made by this provider join, and as what; besides their personal one. */
  organization: z
    .string()
    .regex(/^org_[0-9A-Za-z]{1,64}$/, "organization must be an organisation id (org_…)")
    .optional(),
  role: roleSchema.default("member"),
});

export type UpstreamProvider = z.output<typeof upstreamProviderSchema>;

const providersSchema = z
  .array(upstreamProviderSchema)
  .max(20)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: `id ${p.id} is used twice` });
      seen.add(p.id);
    });
  });

/**
 * The providers from UPSTREAM_PROVIDERS_FILE (wins) or UPSTREAM_PROVIDERS; a string says what is
 * wrong. Messages name fields, never values (a value may be a client secret).
 */
export function loadUpstreamProviders(file: string | undefined, inline: string | undefined): UpstreamProvider[] | string {
  const source = file ? "UPSTREAM_PROVIDERS_FILE" : "UPSTREAM_PROVIDERS";
  let text = inline;
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
  }
  if (text === undefined || text.trim() === "") return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `${source} is not valid JSON`;
  }
  const parsed = providersSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "value"}: ${i.message}`);
  return `${source} is not a valid list of providers (${problems.join("; ")})`;
}
