// Users and their argon2id passwords.
import { randomUUID } from "node:crypto";
import argon2 from "argon2";
import { z } from "zod";
import type { Db } from "../db/client.js";
import { lockWithin } from "../db/locks.js";
import { providerOfDb } from "../db/provider.js";
import { newOrganizationId, PERSONAL_ORG_NAME } from "../orgs/ids.js";

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email("Enter a valid email address").max(254, "Email address is too long"));
export const passwordSchema = z
  .string()
  .min(8, "Password must be at least 8 characters")
  .max(1024, "Password must be at most 1024 characters");

export interface PublicUser {
  id: string;
  email: string;
}

export class UserExistsError extends Error {
  constructor() {
    super("An account with that email already exists");
  }
}

// Verified against when the email is unknown, so both failures take the same time.
const DUMMY_HASH = argon2.hash("keyward-dummy-password", { type: argon2.argon2id });

/**
 * The password hash of an account made by an upstream identity provider (src/upstream-login/): not
 * an argon2 hash, so it never verifies. Such an account logs in through its provider only; a check
 * against it runs argon2 on the dummy hash, so it takes as long as any other failure.
 */
export const NO_LOCAL_PASSWORD = "!no-local-password";
const usable = (hash: string | undefined): hash is string => !!hash && hash !== NO_LOCAL_PASSWORD;

/**
 * Operators (src/admin/): the first account of an instance without an administrator becomes its
 * administrator (migration 0024 made an existing instance's first account one). Called wherever an
 * account is made: sign-up, `keyward users create`, a first upstream log-in.
 *
 * On PostgreSQL, simultaneous claims would each see no administrator in their own statement's snapshot
 * and all win: claims take turns on one lock, and each statement starts after the previous claim
 * committed. (Not a unique index on isAdmin: an instance may have several administrators.)
 */
export async function claimFirstAdmin(db: Db, userId: string): Promise<void> {
  const claim = (q: Pick<Db, "$executeRaw">) =>
    q.$executeRaw`UPDATE "User" SET "isAdmin" = true WHERE "id" = ${userId} AND NOT EXISTS (SELECT 1 FROM "User" WHERE "isAdmin" = true)`;
  // SQLite writes one statement at a time: the statement alone is atomic there.
  if (providerOfDb(db) === "sqlite") return void (await claim(db));
  await db.$transaction(
    async (tx) => {
      await lockWithin(tx, "postgresql", "keyward.first-admin");
      await claim(tx);
    },
    { maxWait: 10_000 },
  );
}

export function createUsers(db: Db) {
  return {
    async create(email: string, password: string): Promise<PublicUser> {
      const e = emailSchema.parse(email);
      const passwordHash = await argon2.hash(passwordSchema.parse(password), { type: argon2.argon2id });
      try {
        const id = `usr_${randomUUID().replace(/-/g, "")}`;
        // Every user owns a personal organisation from the start (src/orgs), made in the same write.
        const personal = {
          create: { role: "owner", organization: { create: { id: newOrganizationId(), name: PERSONAL_ORG_NAME, personalOwnerId: id } } },
        };
        const user = await db.user.create({ data: { id, email: e, passwordHash, memberships: personal } });
        await claimFirstAdmin(db, id);
        return { id: user.id, email: user.email };
      } catch (err) {
        if ((err as { code?: string }).code === "P2002") throw new UserExistsError();
        throw err;
      }
    },

    async findByEmail(email: string): Promise<PublicUser | null> {
      const parsed = emailSchema.safeParse(email);
      if (!parsed.success) return null;
      const user = await db.user.findUnique({ where: { email: parsed.data } });
      return user ? { id: user.id, email: user.email } : null;
    },

    async findById(id: string): Promise<PublicUser | null> {
      const user = await db.user.findUnique({ where: { id } });
      return user ? { id: user.id, email: user.email } : null;
    },

    /** An enabled account by id; null when missing or disabled by an operator (src/admin/). */
    async findEnabledById(id: string): Promise<PublicUser | null> {
      const user = await db.user.findUnique({ where: { id } });
      return user && !user.disabledAt ? { id: user.id, email: user.email } : null;
    },

    /** Whether an operator disabled the account (src/admin/): no log-in, no session, no working key. */
    async isDisabled(id: string): Promise<boolean> {
      const user = await db.user.findUnique({ where: { id }, select: { disabledAt: true } });
      return Boolean(user?.disabledAt);
    },

    /** The user when email and password match; null otherwise, in the same time either way. */
    async authenticate(email: string, password: string): Promise<PublicUser | null> {
      const result = await this.attempt(email, password);
      return result.ok ? result.user : null;
    },

    /** Like authenticate, but a failure says which account it concerned (for its audit trail; never shown). */
    async attempt(email: string, password: string): Promise<{ ok: true; user: PublicUser } | { ok: false; userId: string | null }> {
      const parsed = emailSchema.safeParse(email);
      const user = parsed.success ? await db.user.findUnique({ where: { email: parsed.data } }) : null;
      const hash = usable(user?.passwordHash) ? user.passwordHash : await DUMMY_HASH;
      const ok = await argon2.verify(hash, password.slice(0, 1024)).catch(() => false);
      return user && ok && usable(user.passwordHash)
        ? { ok: true, user: { id: user.id, email: user.email } }
        : { ok: false, userId: user?.id ?? null };
    },

    /** Re-checks a logged-in user's password (before sensitive changes). */
    async verifyPassword(userId: string, password: string): Promise<boolean> {
      const user = await db.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
      if (!user || !usable(user.passwordHash)) return false;
      return argon2.verify(user.passwordHash, password.slice(0, 1024)).catch(() => false);
    },

    /** False for an account made by an upstream identity provider (NO_LOCAL_PASSWORD). */
    async hasLocalPassword(userId: string): Promise<boolean> {
      const user = await db.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
      return usable(user?.passwordHash);
    },

    async setPassword(userId: string, password: string): Promise<void> {
      const passwordHash = await argon2.hash(passwordSchema.parse(password), { type: argon2.argon2id });
      await db.user.update({ where: { id: userId }, data: { passwordHash } });
    },
  };
}

export type Users = ReturnType<typeof createUsers>;
