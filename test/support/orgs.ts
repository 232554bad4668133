// Organisations as their users make them: created with a key (POST /api/orgs), joined the only way
// there is (an admin invites the email, 202; the invitee accepts with their own session:
// src/orgs/invitations.ts), and keys acting in one minted on the member's account page.
import request from "supertest";
import { expect } from "vitest";
import type { Person, Reachable } from "./server.js";

/** Creates an organisation with `key` (its creator becomes the owner); returns its id. */
export async function createOrg(server: Reachable, key: string, name: string): Promise<string> {
  const res = await request(server.url).post("/api/orgs").set("Authorization", `Bearer ${key}`).send({ name });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

/** Creates an app in organisation `orgId` with `key` (an admin's); returns its id. */
export async function createApp(server: Reachable, key: string, orgId: string, name: string): Promise<string> {
  const res = await request(server.url).post(`/api/orgs/${orgId}/apps`).set("Authorization", `Bearer ${key}`).send({ name });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

/** Invites `person` with the admin's key and accepts in their browser session; returns their user id. */
export async function joinOrg(server: Reachable, adminKey: string, orgId: string, person: Person, role: string): Promise<string> {
  const invited = await request(server.url)
    .post(`/api/orgs/${orgId}/members`)
    .set("Authorization", `Bearer ${adminKey}`)
    .send({ email: person.email, role });
  expect(invited.status, invited.text).toBe(202);
  const accepted = await person.agent.post(`/api/invitations/${invited.body.id}/accept`).set("X-CSRF-Token", person.csrf);
  expect(accepted.status, accepted.text).toBe(200);
  return accepted.body.member.userId as string;
}

/** A key acting in `organizationId`, minted on `person`'s account page (a key administers only its own organisation); the raw key. */
export async function mintIn(person: Person, organizationId: string, label = "in the organisation"): Promise<string> {
  const res = await person.agent
    .post("/app/account/api-keys")
    .type("form")
    .send({ _csrf: person.csrf, label, organizationId })
    .redirects(1) // 303 → the one-time reveal
    .expect(200);
  const m = /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(res.text);
  if (!m) throw new Error("no reveal banner");
  return m[1]!;
}
