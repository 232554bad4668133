// Organisation membership is read on every request (in findByHash's single query), so removing a
// member (or deleting an app) stops their keys on the very next one. A user key needs its user to be
// a member of the key's organisation; an app key needs its app to still belong to it. Rows written
// without an organisation (imported keys) act in the user's personal organisation, looked up here.
import type { Db } from "../../db/client.js";
import type { Organizations } from "../../orgs/organizations.js";
import { asRole } from "../../orgs/roles.js";
import type { VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

type Row = NonNullable<VerifyContext["row"]>;

export const checkMembership = (db: Db, orgs: Pick<Organizations, "ensurePersonal">): VerifyStep => {
  /** Rows written without an organisation (imported keys): their user's personal one, read here. */
  const personal = async (ctx: VerifyContext, row: Row): Promise<VerifyFailure | undefined> => {
    const organizationId = await orgs.ensurePersonal(row.userId);
    const membership = await db.membership.findUnique({ where: { organizationId_userId: { organizationId, userId: row.userId } } });
    const app = row.appId ? await db.app.findUnique({ where: { id: row.appId } }) : null;
    return decide(ctx, row, organizationId, { memberRole: membership ? asRole(membership.role) : null, app: app ? { id: app.id, name: app.name, organizationId: app.organizationId } : null });
  };
  // Every key with an organisation is decided at once, from the join that came with its row.
  return (ctx) => {
    const row = ctx.row;
    if (!row) return "unknown_key";
    return row.organizationId ? decide(ctx, row, row.organizationId, ctx.joined) : personal(ctx, row);
  };
};

function decide(ctx: VerifyContext, row: Row, organizationId: string, joined: VerifyContext["joined"]): VerifyFailure | undefined {
  ctx.organizationId = organizationId;
  if (row.appId) {
    const app = joined?.app;
    if (!app || app.organizationId !== organizationId) return "not_member";
    ctx.app = { id: app.id, name: app.name };
    ctx.role = null;
    return undefined;
  }
  const role = joined?.memberRole ?? null;
  if (!role) return "not_member";
  ctx.app = null;
  ctx.role = role;
  return undefined;
}
