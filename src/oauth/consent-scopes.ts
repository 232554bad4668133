// The scopes a consent page offers and the subset the user ticks. Scopes left unticked are recorded
// as rejected on the grant (Grant#rejectResourceScope), so the token carries exactly the ticked ones;
// a later request naming a rejected scope asks again (src/oauth/interaction-policy.ts).
import { z } from "zod";
import { describeScope, type ScopeCatalogue } from "../scopes/catalogue.js";

export interface OfferedScope {
  name: string;
  description: string;
  /** Other scopes this one includes, e.g. mcp:write → [mcp:read]. */
  implies: string[];
}

/** The form field marking that the page showed checkboxes (older pages and scripts post without it). */
export const SCOPE_CHOICE_FIELD = "scope_choice";

export function offeredScopes(missing: Record<string, string[]> | undefined, catalogue: ScopeCatalogue): OfferedScope[] {
  const names = [...new Set(Object.values(missing ?? {}).flat())];
  return names.map((name) => ({
    name,
    description: describeScope(catalogue, name),
    implies: catalogue.find((s) => s.name === name)?.implies ?? [],
  }));
}

const choiceForm = z.object({
  [SCOPE_CHOICE_FIELD]: z.string().optional(),
  scopes: z.union([z.string(), z.array(z.string()).max(100)]).optional(),
});

export type ScopeChoice = { granted: Record<string, string[]>; rejected: Record<string, string[]> };

/**
 * Splits each resource's missing scopes into ticked and unticked. Without the marker field every
 * requested scope is granted (the page before checkboxes, scripted consent); with it, only the
 * ticked ones — none ticked means nothing granted (the caller treats that as a denial).
 */
export function chooseScopes(missing: Record<string, string[]> | undefined, body: unknown): ScopeChoice {
  const form = choiceForm.safeParse(body ?? {});
  const choosing = form.success && form.data[SCOPE_CHOICE_FIELD] !== undefined;
  const raw = form.success ? form.data.scopes : undefined;
  const ticked = new Set(raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]);
  const granted: Record<string, string[]> = {};
  const rejected: Record<string, string[]> = {};
  for (const [resource, scopes] of Object.entries(missing ?? {})) {
    granted[resource] = choosing ? scopes.filter((s) => ticked.has(s)) : scopes;
    rejected[resource] = choosing ? scopes.filter((s) => !ticked.has(s)) : [];
  }
  return { granted, rejected };
}

export function grantsNothing(choice: ScopeChoice, missing: Record<string, string[]> | undefined): boolean {
  const asked = Object.values(missing ?? {}).some((s) => s.length > 0);
  return asked && Object.values(choice.granted).every((s) => s.length === 0);
}

/** What the OpenID Connect scopes a client asks for reveal (shown on the consent page, not choosable). */
const IDENTITY_DESCRIPTIONS: Record<string, string> = {
  openid: "Your account id (signing you in to the application)",
  email: "Your email address",
};

export function identityScopesAsked(missing: string[] | undefined): OfferedScope[] {
  return (missing ?? [])
    .filter((name) => name in IDENTITY_DESCRIPTIONS)
    .map((name) => ({ name, description: IDENTITY_DESCRIPTIONS[name]!, implies: [] }));
}
