// What the gateway last saw of each upstream, for the Resources page: lastOkAt + latency on an
// answered request, lastErrorAt + the error in words on a 502/504. Written at most once per resource
// every `intervalMs` on this instance (the latest observation of the window wins, written when the
// window ends), never on the request's path: a failed write is logged and forgotten.
import type { Db } from "../db/client.js";
import type { Logger } from "../log.js";

export type Observation = { ok: true; latencyMs: number; at: Date } | { ok: false; error: string; at: Date };

interface Pending {
  ok?: { latencyMs: number; at: Date };
  error?: { error: string; at: Date };
}

export interface HealthRecorder {
  note(resourceId: string, observation: Observation): void;
}

export function createHealthRecorder(db: Db, logger: Logger, intervalMs = 5000): HealthRecorder {
  const lastWrite = new Map<string, number>();
  const pending = new Map<string, Pending>();
  const timers = new Set<string>();

  const write = (resourceId: string) => {
    const seen = pending.get(resourceId);
    pending.delete(resourceId);
    if (!seen) return;
    lastWrite.set(resourceId, Date.now());
    const data = {
      ...(seen.ok ? { lastOkAt: seen.ok.at, latencyMs: Math.round(seen.ok.latencyMs) } : {}),
      ...(seen.error ? { lastErrorAt: seen.error.at, lastError: seen.error.error } : {}),
    };
    // A resource removed meanwhile gets no health row back (remove() deleted its row).
    db.resource
      .findUnique({ where: { id: resourceId }, select: { id: true } })
      .then((exists) =>
        exists ? db.resourceHealth.upsert({ where: { resourceId }, create: { resourceId, ...data }, update: data }) : undefined,
      )
      .catch((err: unknown) =>
        logger.warn({ err: err instanceof Error ? err.message : String(err), resourceId }, "gateway health write failed"),
      );
  };

  return {
    note(resourceId, observation) {
      const seen = pending.get(resourceId) ?? {};
      if (observation.ok) seen.ok = { latencyMs: observation.latencyMs, at: observation.at };
      else seen.error = { error: observation.error, at: observation.at };
      pending.set(resourceId, seen);
      if (timers.has(resourceId)) return;
      const wait = (lastWrite.get(resourceId) ?? 0) + intervalMs - Date.now();
      if (wait <= 0) return write(resourceId);
      timers.add(resourceId);
      setTimeout(() => {
        timers.delete(resourceId);
        write(resourceId);
      }, wait).unref();
    },
  };
}
