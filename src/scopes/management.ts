// Scopes of Keyward's own API (managing keys and organisations), apart from the operator's catalogue
// (what keys may do at the protected resource). The catalogue may not reuse these names, and the
// OAuth server does not know them, so an OAuth client cannot ask for them.
//   keys:read   list and read your keys            (GET /api/api-keys…)
//   keys:write  mint and revoke keys; implies keys:read
//   orgs:read   list organisations, members, invitations addressed to you
//   orgs:write  create organisations, invite/remove members, change roles, apps and app keys,
//               accept or decline invitations; implies orgs:read
export const MANAGEMENT_SCOPES = ["keys:read", "keys:write", "orgs:read", "orgs:write"] as const;
export type ManagementScope = (typeof MANAGEMENT_SCOPES)[number];

const IMPLIES: Record<ManagementScope, readonly ManagementScope[]> = {
  "keys:read": [],
  "keys:write": ["keys:read"],
  "orgs:read": [],
  "orgs:write": ["orgs:read"],
};

export const MANAGEMENT_DESCRIPTIONS: Record<ManagementScope, string> = {
  "keys:read": "List your API keys",
  "keys:write": "Mint and revoke your API keys (only with access this key has itself)",
  "orgs:read": "List your organisations, their members and your invitations",
  "orgs:write": "Create organisations, manage members, apps and app keys, answer invitations",
};

export function isManagementScope(name: string): name is ManagementScope {
  return (MANAGEMENT_SCOPES as readonly string[]).includes(name);
}

/** The management scopes named in `scopes`, with what they imply. Other names are ignored. */
export function expandManagement(scopes: Iterable<string>): Set<ManagementScope> {
  const out = new Set<ManagementScope>();
  for (const name of scopes) {
    if (!isManagementScope(name)) continue;
    out.add(name);
    for (const implied of IMPLIES[name]) out.add(implied);
  }
  return out;
}
