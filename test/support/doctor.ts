// The connection doctor's pages (src/doctor/routes.ts) as its tests read them: a client's doctor page
// (Connected apps) and a key's (its row on the API keys page), read once the doctor's background
// event writes are done, in words (ejs's entities decoded) so a reason can be looked for as written.
import { expect } from "vitest";
import type { Person, TestServer } from "./server.js";
import { unescapeHtml } from "./test-db.js";

/** The doctor page of an OAuth client, as its app's row on the connected apps page links it. */
export const clientDoctorPath = (clientId: string): string => `/app/account/connected-apps/${encodeURIComponent(clientId)}/doctor`;

/** The doctor page of one key, as its row on the API keys page links it. */
export const keyDoctorPath = (keyId: string): string => `/app/account/api-keys/${encodeURIComponent(keyId)}/doctor`;

/**
 * `who`'s doctor page at `path` once every event recorded so far is written: it answers 200 and shows
 * `words`. Returns the page's text, decoded.
 */
export async function doctorPageShowing(server: TestServer, who: Person, path: string, words: string): Promise<string> {
  await server.services.doctor.events.settled();
  const page = await who.agent.get(path);
  expect(page.status, page.text).toBe(200);
  const text = unescapeHtml(page.text);
  expect(text).toContain(words);
  return text;
}
