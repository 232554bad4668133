// Resolves an organisation id from a URL for the signed-in user. Not a member and no such
// organisation are the same answer (byte-identical 404); members without admin rights get 403 on
// admin-only actions.
import type { Services } from "../services.js";
import type { OrganizationView } from "./organizations.js";
import { canAdminister } from "./roles.js";
import { HttpError } from "../http/errors.js";

export const orgNotFound = () => new HttpError(404, "not_found", "No organisation with that id.");
export const keyNotFound = () => new HttpError(404, "not_found", "No API key with that id.");
export const appNotFound = () => new HttpError(404, "not_found", "No app with that id.");
export const memberNotFound = () => new HttpError(404, "not_found", "No member with that id.");

export async function orgForUser(
  services: Services,
  userId: string,
  organizationId: string,
  need: "member" | "admin",
): Promise<OrganizationView> {
  const org = await services.orgs.get(userId, organizationId);
  if (!org) throw orgNotFound();
  if (need === "admin" && !canAdminister(org.role))
    throw new HttpError(403, "forbidden", "Only the organisation's owners and admins can do this.");
  return org;
}
