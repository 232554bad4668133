// API keys as the key tests make and use them: a person with a key minted on their own account page
// (as a person would), the JSON API called with a key, and a key backdated on the test's clock.
import request from "supertest";
import { mintOnPage, signUp, signUpWithKey, startTestServer, type Person, type Reachable, type TestServer } from "./server.js";
import { recordingUpstream } from "./upstreams.js";
import type { KeyView } from "../../src/keys/index.js";

const DAY = 86_400_000;

/** A key as the JSON API and `keyward api-keys … --json` give it: its KeyView, with the raw key on creation only. */
export type KeyJson = KeyView & { key?: string };

/** A signed-up, logged-in person with their user id and a key they minted on the account page (labelled `label`). */
export async function signUpWithPageKey(server: TestServer, label: string): Promise<Person & { raw: string; id: string }> {
  const person = await signUp(server);
  const raw = (await mintOnPage(person.agent, person.csrf, label)).raw;
  return { ...person, raw, id: (await server.services.users.findByEmail(person.email))!.id };
}

/**
 * The JSON API as the holder of `raw` calls it: each method's request, with `Authorization: Bearer <raw>`;
 * a `body` given to post, put or patch is sent as JSON.
 */
export function keyApi(server: Reachable, raw: string) {
  const as = (test: request.Test, body?: object) => {
    const authorized = test.set("Authorization", `Bearer ${raw}`);
    return body === undefined ? authorized : authorized.send(body);
  };
  return {
    get: (path: string) => as(request(server.url).get(path)),
    post: (path: string, body?: object) => as(request(server.url).post(path), body),
    put: (path: string, body?: object) => as(request(server.url).put(path), body),
    patch: (path: string, body?: object) => as(request(server.url).patch(path), body),
    delete: (path: string) => as(request(server.url).delete(path)),
  };
}

/** Backdates key `id`: created `createdDaysAgo` days ago, last used `usedDaysAgo` days ago (null: never). */
export function backdateKey(server: TestServer, id: string, createdDaysAgo: number, usedDaysAgo: number | null) {
  return server.services.db.apiKey.update({
    where: { id },
    data: {
      createdAt: new Date(Date.now() - createdDaysAgo * DAY),
      lastUsedAt: usedDaysAgo === null ? null : new Date(Date.now() - usedDaysAgo * DAY),
    },
  });
}

/** A gateway resource as `resources.add` takes it, but for its upstream (a recording one is made for it). */
type ResourceWithoutUpstream = Omit<Parameters<TestServer["services"]["resources"]["add"]>[0], "upstream">;

/**
 * Where the key-limit tests start: a server, a signed-up person with an operator-minted key (`admin`),
 * and `resource` added as a gateway resource in front of a recording upstream. Close the server and the upstream.
 */
export async function startWithKeyAndResource(resource: ResourceWithoutUpstream) {
  const server = await startTestServer();
  const { person, userId, admin } = await signUpWithKey(server);
  const upstream = await recordingUpstream();
  await server.services.resources.add({ ...resource, upstream: upstream.url }, { actor: { type: "cli" } });
  return { server, person, userId, admin, upstream };
}
