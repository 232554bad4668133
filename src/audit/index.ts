// The audit trail. Append-only: this module can add and read events, nothing else.
import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";
import type { AuditEvent as AuditEventRow } from "../generated/sqlite/client.js";

export type ActorType = "user" | "api_key" | "cli" | "oauth_client" | "org_admin" | "secret_scanning" | "system";

export interface AuditInput {
  /** The account the event concerns (shown on that user's audit page). */
  userId: string | null;
  actor: { type: ActorType; id?: string | null };
  action: string;
  targetId?: string | null;
  /** Request metadata: where the event came from. */
  ip?: string | null;
  userAgent?: string | null;
  /** Extra facts (labels, client names …). Never a secret. */
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditEventView {
  id: string;
  action: string;
  actorType: string;
  actorId: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

/** One stored event as pages, the API and the CLI show it (details parsed, the time as ISO 8601). */
export function eventView(r: AuditEventRow): AuditEventView {
  return {
    id: r.id,
    action: r.action,
    actorType: r.actorType,
    actorId: r.actorId,
    targetId: r.targetId,
    ip: r.ip,
    userAgent: r.userAgent,
    details: JSON.parse(r.details) as Record<string, unknown>,
    createdAt: r.createdAt.toISOString(),
  };
}

export interface ListOptions {
  limit?: number;
  /** The last event of the previous page: only older ones follow. */
  before?: { createdAt: Date; id: string };
  action?: string;
  keyId?: string;
}

/**
 * Where an event is written: the client itself, or the transaction of the change it records (a key
 * and its `key.minted` event commit together or not at all: src/keys/store.ts).
 */
export type AuditWriter = Pick<Db, "auditEvent">;

function rowOf(e: AuditInput) {
  return {
    id: `evt_${randomUUID().replace(/-/g, "")}`,
    userId: e.userId,
    actorType: e.actor.type,
    actorId: e.actor.id ?? null,
    action: e.action,
    targetId: e.targetId ?? null,
    ip: e.ip?.slice(0, 100) ?? null,
    userAgent: e.userAgent?.slice(0, 500) ?? null,
    details: JSON.stringify(e.details ?? {}),
  };
}

export function createAudit(db: Db) {
  return {
    /** Adds one event; `writer`: a transaction client, to commit the event with the change it records. */
    async record(e: AuditInput, writer: AuditWriter = db): Promise<void> {
      await writer.auditEvent.create({ data: rowOf(e) });
    },

    /** Adds several events in one statement (same `writer` rule). */
    async recordAll(events: readonly AuditInput[], writer: AuditWriter = db): Promise<void> {
      if (events.length > 0) await writer.auditEvent.createMany({ data: events.map(rowOf) });
    },

    /** Newest first; `before` walks to older events, `action` and `keyId` narrow them (events about the key or made with it). */
    async listForUser(userId: string, options: ListOptions = {}): Promise<AuditEventView[]> {
      const { before, action, keyId } = options;
      const where = {
        userId,
        AND: [
          before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {},
          action ? { action } : {},
          keyId ? { OR: [{ targetId: keyId }, { actorType: "api_key", actorId: keyId }] } : {},
        ],
      };
      const rows = await db.auditEvent.findMany({
        where,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: Math.min(options.limit ?? 100, 500),
      });
      return rows.map(eventView);
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;
