// Joining an organisation the only way there is: an admin invites the email (202), the invitee
// accepts with their own session (src/orgs/invitations.ts).
import request from "supertest";
import { expect } from "vitest";
import type { signUp, TestServer } from "./server.js";

type Person = Awaited<ReturnType<typeof signUp>>;

/** Invites `person` with the admin's key and accepts in their browser session; returns their user id. */
export async function joinOrg(server: TestServer, adminKey: string, orgId: string, person: Person, role: string): Promise<string> {
  const invited = await request(server.url)
    .post(`/api/orgs/${orgId}/members`)
    .set("Authorization", `Bearer ${adminKey}`)
    .send({ email: person.email, role });
  expect(invited.status, invited.text).toBe(202);
  const accepted = await person.agent.post(`/api/invitations/${invited.body.id}/accept`).set("X-CSRF-Token", person.csrf);
  expect(accepted.status, accepted.text).toBe(200);
  return accepted.body.member.userId as string;
}
