// Gateway resources as the resource-binding tests set them up: two resources in front of upstreams
// nothing listens on (a key is bound to them, never calls them), beside Keyward's own /mcp.
import type { TestServer } from "./server.js";

const BY_CLI = { actor: { type: "cli" as const } };

/**
 * Adds the resources `notes` ("Team notes") and `tickets` (named `ticketsName`), their upstreams on
 * 127.0.0.1 ports `port` and `port + 1`; returns the URLs keys are bound to: theirs and the built-in /mcp.
 */
export async function addNotesAndTickets(server: TestServer, ticketsName: string, port: number) {
  const { resources } = server.services;
  const notes = (await resources.add({ slug: "notes", name: "Team notes", upstream: `http://127.0.0.1:${port}/mcp` }, BY_CLI)).url;
  const tickets = (await resources.add({ slug: "tickets", name: ticketsName, upstream: `http://127.0.0.1:${port + 1}/mcp` }, BY_CLI)).url;
  return { notes, tickets, builtIn: `${server.url}/mcp` };
}
