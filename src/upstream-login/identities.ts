// An account's upstream identities: listed (security, sign-in methods and operator pages), linked by
// a signed-in person (./link-routes.ts), unlinked unless that leaves the account no way to sign in.
import type { Db } from "../db/client.js";
import { NO_LOCAL_PASSWORD } from "../accounts/users.js";
import type { UpstreamProvider } from "./config.js";

export interface IdentityView {
  providerId: string;
  /** The provider's display name; the id when the provider is no longer configured. */
  providerName: string;
  /** Whether the provider is still configured (an identity of a removed provider signs nobody in). */
  configured: boolean;
  email: string | null;
  linkedAt: string;
  lastUsedAt: string;
}

export async function linkedProviderNames(db: Db, providers: readonly UpstreamProvider[], userId: string): Promise<string[]> {
  return (await listIdentities(db, providers, userId)).map((i) => i.providerName);
}

export async function listIdentities(db: Db, providers: readonly UpstreamProvider[], userId: string): Promise<IdentityView[]> {
  const rows = await db.upstreamIdentity.findMany({ where: { userId }, orderBy: [{ createdAt: "asc" }, { providerId: "asc" }] });
  return rows.map((r) => {
    const p = providers.find((x) => x.id === r.providerId);
    return {
      providerId: r.providerId,
      providerName: p?.name ?? r.providerId,
      configured: !!p,
      email: r.email,
      linkedAt: r.createdAt.toISOString(),
      lastUsedAt: r.lastLoginAt.toISOString(),
    };
  });
}

export type LinkOutcome = "linked" | "already_yours" | "taken" | "provider_taken";

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

/**
 * Links (provider, subject) to `userId`. Never moves an identity from another account ("taken": the
 * caller says so without saying whose), and one identity per provider and account ("provider_taken").
 */
export async function linkIdentity(
  db: Db,
  userId: string,
  providerId: string,
  subject: string,
  email: string | null,
): Promise<LinkOutcome> {
  const check = async (): Promise<LinkOutcome | null> => {
    const holder = await db.upstreamIdentity.findUnique({
      where: { providerId_subject: { providerId, subject } },
      select: { userId: true },
    });
    if (holder) return holder.userId === userId ? "already_yours" : "taken";
    const mine = await db.upstreamIdentity.findUnique({ where: { providerId_userId: { providerId, userId } }, select: { subject: true } });
    return mine ? "provider_taken" : null;
  };
  const refusal = await check();
  if (refusal) return refusal;
  try {
    await db.upstreamIdentity.create({ data: { providerId, subject, userId, email } });
    return "linked";
  } catch (err) {
    // A concurrent link or first log-in of the same identity won: answer as if it had come first.
    if (!isUniqueViolation(err)) throw err;
    return (await check()) ?? "taken";
  }
}

export type UnlinkOutcome = "unlinked" | "not_found" | "last_way_in";

/**
 * Unlinks the account's identity at `providerId`, unless the account would be left with no way to
 * sign in: no usable password (or `localPasswords` off) and no other identity of a configured provider.
 * The account's row is locked first (an UPDATE), so two unlinks at once cannot each leave the other
 * as the last way in and both go through.
 */
export async function unlinkIdentity(
  db: Db,
  providers: readonly UpstreamProvider[],
  localPasswords: boolean,
  userId: string,
  providerId: string,
): Promise<UnlinkOutcome> {
  return db
    .$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE "User" SET "id" = "id" WHERE "id" = ${userId}`;
      const deleted = await tx.upstreamIdentity.deleteMany({ where: { userId, providerId } });
      if (deleted.count === 0) return "not_found" as const;
      const user = await tx.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
      const password = localPasswords && !!user && user.passwordHash !== NO_LOCAL_PASSWORD;
      const others = await tx.upstreamIdentity.count({
        where: { userId, providerId: { in: providers.map((p) => p.id) } },
      });
      if (!password && others === 0) throw new LastWayIn();
      return "unlinked" as const;
    })
    .catch((err: unknown) => {
      if (err instanceof LastWayIn) return "last_way_in" as const;
      throw err;
    });
}

class LastWayIn extends Error {}
