// Which writes must reach every instance's verification cache (src/keys/lookup/announce.ts).
import { describe, expect, it } from "vitest";
import { changesVerification } from "../../src/keys/lookup/announce.js";

describe("writes that change verification", () => {
  it("are revocations, role and membership changes, user and app changes; new keys are not", () => {
    for (const [model, op] of [
      ["ApiKey", "updateMany"],
      ["ApiKey", "delete"],
      ["Membership", "create"],
      ["Membership", "update"],
      ["Membership", "delete"],
      ["User", "delete"],
      ["App", "delete"],
      ["Organization", "delete"],
    ])
      expect(changesVerification(model, op!), `${model}.${op}`).toBe(true);
    for (const [model, op] of [
      ["ApiKey", "create"],
      ["ApiKey", "createMany"],
      ["ApiKey", "findUnique"],
      ["Session", "update"],
      ["AuditEvent", "create"],
      [undefined, "executeRaw"],
    ])
      expect(changesVerification(model, op!), `${model}.${op}`).toBe(false);
  });
});
