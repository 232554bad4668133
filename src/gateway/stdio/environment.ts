// What a stdio server process sees of the world: a clean environment, never Keyward's own. The MCP
// SDK's StdioClientTransport adds HOME, LOGNAME, PATH, SHELL, TERM and USER of this process (its
// getDefaultEnvironment); we add LANG, the resource's own variables and who the process serves.
// Nothing of the key (not its id, hash or value) and nothing of Keyward's configuration
// (DATABASE_URL, COOKIE_SECRET, …) is passed on.

/** Who a process serves: the user, the organisation the key acts in, the key's effective scopes. */
export interface Owner {
  userId: string;
  email: string;
  organizationId: string;
  scopes: readonly string[];
}

export function processEnvironment(resourceEnv: Readonly<Record<string, string>>, owner: Owner): Record<string, string> {
  const lang = process.env.LANG;
  return {
    ...(lang ? { LANG: lang } : {}),
    ...resourceEnv,
    // Last: the resource's env cannot name KEYWARD_* (src/resources/input.ts), and these win anyway.
    KEYWARD_USER_ID: owner.userId,
    KEYWARD_USER_EMAIL: owner.email,
    KEYWARD_ORGANIZATION_ID: owner.organizationId,
    KEYWARD_SCOPES: owner.scopes.join(" "),
  };
}
