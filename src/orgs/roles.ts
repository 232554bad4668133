// Organisation roles and what each one may do (docs/permissions.md).
//   owner  — everything, including managing owners; an organisation always keeps at least one
//   admin  — manage members (not owners), apps and app keys; see and revoke members' keys
//   member — use keys with every scope the catalogue has, on their own data
//   viewer — read-only: keys are capped to the catalogue's read-only scopes
import { z } from "zod";
import type { ScopeCatalogue } from "../scopes/catalogue.js";

export const ROLES = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES, { error: `role must be one of: ${ROLES.join(", ")}` });

export function asRole(value: string): Role | null {
  return (ROLES as readonly string[]).includes(value) ? (value as Role) : null;
}

/** May this role manage the organisation's members, apps and members' keys? */
export function canAdminister(role: Role | null | undefined): boolean {
  return role === "owner" || role === "admin";
}

/** May `actor` give or take away `role` (owners only touch owners)? */
export function canAssign(actor: Role, role: Role): boolean {
  return actor === "owner" || (actor === "admin" && role !== "owner");
}

/** The scopes a role may use at most: null = no cap. */
export function roleCap(role: Role, catalogue: ScopeCatalogue): Set<string> | null {
  if (role === "viewer") return new Set(catalogue.filter((s) => s.readOnly).map((s) => s.name));
  return null;
}
