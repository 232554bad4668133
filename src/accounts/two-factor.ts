// TOTP two-factor authentication (RFC 6238, otplib) with single-use backup codes.
//   enrolment: begin() stores a pending secret (encrypted) and returns it for the QR code;
//   confirm(code) turns it on and returns 10 backup codes, the only time they exist in clear.
//   log-in: verifyTotp() refuses a code whose time step is not newer than the last accepted one
//   (no replay inside the window); useBackupCode() burns a code atomically.
import { randomUUID } from "node:crypto";
import { generateSecret, generateURI, verify } from "otplib";
import type { Db } from "../db/client.js";
import { createSecretBox } from "./secret-box.js";
import { BACKUP_CODE_COUNT, backupCodeHasher, newBackupCode, normaliseBackupCode } from "./backup-codes.js";

/** One step either side of now (clock drift between phone and server). */
const EPOCH_TOLERANCE_SECONDS = 30;
const TOTP_PATTERN = /^\d{6}$/;

export type TwoFactorStatus =
  { state: "off" } | { state: "pending"; secret: string; uri: string } | { state: "on"; enabledAt: string; backupCodesLeft: number };

export type SecondFactorResult =
  { ok: true; method: "totp" } | { ok: true; method: "backup_code"; backupCodesLeft: number } | { ok: false };

/** The code as typed, without spaces and dashes a user might add. */
export const cleanCode = (input: string) => input.replace(/[\s]/g, "");

export function createTwoFactor(db: Db, options: { encryptionSecret: Buffer; issuer: string }) {
  const box = createSecretBox(options.encryptionSecret);
  const hashCode = backupCodeHasher(options.encryptionSecret);

  const uriFor = (email: string, secret: string) => generateURI({ issuer: options.issuer, label: email, secret });

  /** The time step of `code` when it is valid for `secret` and newer than `after`; null otherwise. */
  const matchingStep = async (secret: string, code: string, after: number | null): Promise<number | null> => {
    if (!TOTP_PATTERN.test(code)) return null;
    try {
      const result = await verify({ secret, token: code, epochTolerance: EPOCH_TOLERANCE_SECONDS, afterTimeStep: after ?? undefined });
      return result.valid && "timeStep" in result ? result.timeStep : null;
    } catch {
      return null; // e.g. the last accepted step lies in the future (clock moved back): refuse
    }
  };

  /** Records `step` as used unless an equal or newer one was recorded first (two requests racing). */
  const claimStep = async (userId: string, step: number): Promise<boolean> => {
    const { count } = await db.user.updateMany({
      where: { id: userId, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
      data: { totpLastStep: step },
    });
    return count === 1;
  };

  const freshBackupCodes = (userId: string) => {
    const codes = Array.from({ length: BACKUP_CODE_COUNT }, newBackupCode);
    const rows = codes.map((code) => ({
      id: `bkc_${randomUUID().replace(/-/g, "")}`,
      userId,
      hash: hashCode(userId, normaliseBackupCode(code)!),
    }));
    return { codes, rows };
  };

  return {
    async status(userId: string): Promise<TwoFactorStatus> {
      const user = await db.user.findUnique({ where: { id: userId } });
      if (!user) return { state: "off" };
      if (user.totpSecret && user.totpEnabledAt) {
        const backupCodesLeft = await db.backupCode.count({ where: { userId, usedAt: null } });
        return { state: "on", enabledAt: user.totpEnabledAt.toISOString(), backupCodesLeft };
      }
      const pending = user.totpPending ? box.open(user.totpPending, userId) : null;
      return pending ? { state: "pending", secret: pending, uri: uriFor(user.email, pending) } : { state: "off" };
    },

    async isEnabled(userId: string): Promise<boolean> {
      const user = await db.user.findUnique({ where: { id: userId }, select: { totpSecret: true, totpEnabledAt: true } });
      return !!user?.totpSecret && !!user.totpEnabledAt;
    },

    /** Starts (or restarts) enrolment with a new secret. Null when 2FA is already on. */
    async begin(userId: string): Promise<{ secret: string; uri: string } | null> {
      const user = await db.user.findUnique({ where: { id: userId } });
      if (!user || user.totpEnabledAt) return null;
      const secret = generateSecret();
      await db.user.update({ where: { id: userId }, data: { totpPending: box.seal(secret, userId) } });
      return { secret, uri: uriFor(user.email, secret) };
    },

    /** Confirms enrolment with a code from the app; returns the backup codes (shown once) or null. */
    async confirm(userId: string, code: string): Promise<string[] | null> {
      const user = await db.user.findUnique({ where: { id: userId } });
      if (!user?.totpPending || user.totpEnabledAt) return null;
      const secret = box.open(user.totpPending, userId);
      if (!secret) return null;
      const step = await matchingStep(secret, cleanCode(code), user.totpLastStep);
      if (step === null) return null;
      const { codes, rows } = freshBackupCodes(userId);
      const done = await db.$transaction(async (tx) => {
        const { count } = await tx.user.updateMany({
          where: { id: userId, totpPending: user.totpPending, totpEnabledAt: null },
          data: { totpSecret: user.totpPending, totpPending: null, totpEnabledAt: new Date(), totpLastStep: step },
        });
        if (count !== 1) return false;
        await tx.backupCode.deleteMany({ where: { userId } });
        await tx.backupCode.createMany({ data: rows });
        return true;
      });
      return done ? codes : null;
    },

    /** A TOTP code at log-in. Each time step is accepted once. */
    async verifyTotp(userId: string, code: string): Promise<boolean> {
      const user = await db.user.findUnique({ where: { id: userId } });
      if (!user?.totpSecret || !user.totpEnabledAt) return false;
      const secret = box.open(user.totpSecret, userId);
      if (!secret) return false;
      const step = await matchingStep(secret, cleanCode(code), user.totpLastStep);
      return step !== null && (await claimStep(userId, step));
    },

    /** Burns a backup code; the number left when it was valid and unused, null otherwise. */
    async useBackupCode(userId: string, code: string): Promise<number | null> {
      const normalised = normaliseBackupCode(code);
      if (!normalised || !(await this.isEnabled(userId))) return null;
      const { count } = await db.backupCode.updateMany({
        where: { userId, hash: hashCode(userId, normalised), usedAt: null },
        data: { usedAt: new Date() },
      });
      if (count !== 1) return null;
      return db.backupCode.count({ where: { userId, usedAt: null } });
    },

    /** The second factor at log-in: a 6-digit TOTP code or a backup code. */
    async verifySecondFactor(userId: string, input: string): Promise<SecondFactorResult> {
      const code = cleanCode(input);
      if (TOTP_PATTERN.test(code)) return (await this.verifyTotp(userId, code)) ? { ok: true, method: "totp" } : { ok: false };
      const left = await this.useBackupCode(userId, code);
      return left === null ? { ok: false } : { ok: true, method: "backup_code", backupCodesLeft: left };
    },

    /** New backup codes (the old ones stop working). Null when 2FA is off. */
    async regenerateBackupCodes(userId: string): Promise<string[] | null> {
      if (!(await this.isEnabled(userId))) return null;
      const { codes, rows } = freshBackupCodes(userId);
      await db.$transaction([db.backupCode.deleteMany({ where: { userId } }), db.backupCode.createMany({ data: rows })]);
      return codes;
    },

    /** Turns 2FA off and forgets the secret and the backup codes. True when it was on. */
    async disable(userId: string): Promise<boolean> {
      const [updated] = await db.$transaction([
        db.user.updateMany({
          where: { id: userId, totpEnabledAt: { not: null } },
          data: { totpSecret: null, totpPending: null, totpEnabledAt: null, totpLastStep: null },
        }),
        db.backupCode.deleteMany({ where: { userId } }),
      ]);
      return updated.count === 1;
    },
  };
}

export type TwoFactor = ReturnType<typeof createTwoFactor>;
