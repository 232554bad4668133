// toView: the key as the pages, the JSON API, the CLI and a verified request show it.
import { describe, expect, it } from "vitest";
import type { ApiKey } from "../src/generated/sqlite/client.js";
import { toView } from "../src/keys/view.js";

const row = (extra: Partial<ApiKey> = {}): ApiKey => ({
  id: "key_1",
  userId: "u_1",
  hash: "00",
  last4: "abcd",
  label: "laptop",
  source: "oauth",
  clientId: "dcr_x",
  scopes: "mcp:read  mcp:write",
  resource: null,
  grantId: null,
  organizationId: "org_1",
  appId: null,
  dpopJkt: null,
  allowedIps: null,
  rateLimit: null,
  createdAt: new Date(Date.UTC(2026, 0, 1)),
  lastUsedAt: new Date(Date.UTC(2026, 0, 2)),
  revokedAt: null,
  expiresAt: null,
  replacedById: null,
  expiryNoticeSentAt: null,
  ...extra,
});

describe("toView", () => {
  it("shows status, source badge, scopes and times as ISO strings", () => {
    expect(toView(row())).toMatchObject({
      status: "active",
      sourceLabel: "OAuth: dcr_x",
      scopes: ["mcp:read", "mcp:write"],
      createdAt: "2026-01-01T00:00:00.000Z",
      lastUsedAt: "2026-01-02T00:00:00.000Z",
      revokedAt: null,
    });
    expect(toView(row({ revokedAt: new Date(Date.UTC(2026, 0, 3)), source: "weird" }))).toMatchObject({
      status: "revoked",
      source: "unknown",
      sourceLabel: "Unknown",
      revokedAt: "2026-01-03T00:00:00.000Z",
    });
  });

  it("shows a last use noted but not yet written only when it is later than the stored one", () => {
    const later = new Date(Date.UTC(2026, 0, 2, 0, 0, 0, 7));
    expect(toView(row(), later).lastUsedAt).toBe("2026-01-02T00:00:00.007Z");
    expect(toView(row(), new Date(Date.UTC(2026, 0, 1))).lastUsedAt).toBe("2026-01-02T00:00:00.000Z");
    expect(toView(row({ lastUsedAt: null }), later).lastUsedAt).toBe("2026-01-02T00:00:00.007Z");
    expect(toView(row({ lastUsedAt: null })).lastUsedAt).toBeNull();
  });
});
