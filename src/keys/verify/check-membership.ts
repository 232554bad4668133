// Organisation membership is read on every request (in findRow's single query), so removing a
// member (or deleting an app) stops their keys on the very next one. A user key needs its user to be
// a member of the key's organisation; an app key needs its app to still belong to it. Every key row
// has an organisation (migration 0012 made the column NOT NULL), so this is a pure check: it reads
// only what came with the row and never writes.
import type { VerifyStep } from "./context.js";

export const checkMembership: VerifyStep = (ctx) => {
  const row = ctx.row;
  if (!row) return "unknown_key";
  const organizationId = row.organizationId;
  ctx.organizationId = organizationId;
  if (row.appId) {
    const app = ctx.joined?.app;
    if (!app || app.organizationId !== organizationId) return "not_member";
    ctx.app = { id: app.id, name: app.name };
    ctx.role = null;
    return undefined;
  }
  const role = ctx.joined?.memberRole ?? null;
  if (!role) return "not_member";
  ctx.app = null;
  ctx.role = role;
  return undefined;
};
