// Organisation membership is read on every request (in find_by_hash's single query), so removing a
// member (or deleting an app) stops their keys on the very next one. A user key needs its user to be
// a member of the key's organisation; an app key needs its app to still belong to it. Rows written
// without an organisation (imported keys) act in the user's personal organisation, looked up here.
import type { Db } from "../../db/client.js";
import type { Organizations } from "../../orgs/organizations.js";
import { asRole } from "../../orgs/roles.js";
import type { VerifyStep } from "./context.js";

export const check_membership =
  (db: Db, orgs: Pick<Organizations, "ensurePersonal">): VerifyStep =>
  async (ctx) => {
    const row = ctx.row;
    if (!row) return "unknown_key";
    let joined = ctx.joined;
    let organizationId = row.organizationId;
    if (!organizationId) {
      organizationId = await orgs.ensurePersonal(row.userId);
      const membership = await db.membership.findUnique({ where: { organizationId_userId: { organizationId, userId: row.userId } } });
      const app = row.appId ? await db.app.findUnique({ where: { id: row.appId } }) : null;
      joined = { memberRole: membership?.role ?? null, app: app ? { id: app.id, name: app.name, organizationId: app.organizationId } : null };
    }
    ctx.organizationId = organizationId;
    if (row.appId) {
      const app = joined?.app;
      if (!app || app.organizationId !== organizationId) return "not_member";
      ctx.app = { id: app.id, name: app.name };
      ctx.role = null;
      return undefined;
    }
    const role = joined?.memberRole ? asRole(joined.memberRole) : null;
    if (!role) return "not_member";
    ctx.app = null;
    ctx.role = role;
    return undefined;
  };
