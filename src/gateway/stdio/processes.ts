// The stdio processes of one instance: one per MCP session, each belonging to one user (in one
// organisation, with one set of scopes) and one resource. A request names its session by
// Mcp-Session-Id; a session of another user, resource, organisation or scope set is answered exactly
// like a missing one (src/gateway/stdio/index.ts), so a user's requests only ever reach their own
// processes. Why a process per session rather than one per user: a stdio server holds the state of
// one client connection (its initialize, subscriptions, pending requests); two MCP hosts of the same
// user each get their own, exactly as each would start its own when run locally (docs/gateway.md).
// 2026-07-28 clients have no sessions: all of one owner's (user, organisation, scopes) modern requests
// at a resource share one process of their own (src/gateway/stdio/modern.ts), never a session's.
//
// Bounds: at most `max` processes on the instance and `maxPerResource` per resource (over: 503 with
// Retry-After, never an unbounded fork); a user's session beyond `sessionsPerUser` at a resource ends
// that user's least recently used one there. A process with no open request for `idleMs` ends. Every
// `checkMs`, the owners are checked against the database (the same on every instance): a user who no
// longer holds an active key working at the resource (revoked, removed) loses their processes.
import type { Logger } from "../../log.js";
import type { Keys } from "../../keys/index.js";
import { GatewayError } from "../errors.js";
import type { Bridge } from "./bridge.js";
import type { EndReason, ProcessSpec } from "./spawn.js";
import type { Link } from "./link.js";
import { processEnvironment, type Owner } from "./environment.js";

export interface StdioLimits {
  idleMs: number;
  maxPerResource: number;
  max: number;
  sessionsPerUser: number;
  checkMs: number;
}

/** What a process is started from: the resource as it was then (a change ends its processes). */
export interface StdioResource {
  id: string;
  slug: string;
  name: string;
  url: string;
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string | null;
}

/** A running process as the pool sees it: a session's bridge or a modern link. */
interface Child {
  readonly pid: number | null;
  end(reason: EndReason): Promise<void>;
}

export interface Running<C extends Child> {
  readonly resource: StdioResource;
  readonly owner: Owner;
  readonly child: C;
  /** Marks a request open (no idle stop meanwhile); call the result when it has closed. */
  begin(): () => void;
  end(reason: EndReason): Promise<void>;
}

export interface Session extends Running<Bridge> {
  /** The Mcp-Session-Id the client was given; undefined until its initialize was accepted. */
  readonly sessionId: string | undefined;
  /** Marks a request open (no idle stop meanwhile); call the result when it has closed. */
  begin(): () => void;
  /** Whether a request of this owner at this resource may use the session. */
  serves(resource: StdioResource, owner: Owner): boolean;
  end(reason: EndReason): Promise<void>;
}

/** The process serving one owner's 2026-07-28 requests at one resource. */
export type ModernProcess = Running<Link>;

export interface StdioProcessView {
  /** A session's id; undefined for a process serving 2026-07-28 requests (or one still starting). */
  sessionId: string | undefined;
  era: "legacy" | "modern";
  resource: string;
  userId: string;
  pid: number | null;
}

export interface StdioPool {
  /** The session with this Mcp-Session-Id, if it is alive on this instance. */
  get(sessionId: string): Session | undefined;
  /** Starts a process for a new session (the caller then hands it the initialize request). */
  start(resource: StdioResource, owner: Owner): Promise<Session>;
  /** The owner's process for 2026-07-28 requests at this resource: the running one, else a new one. */
  modern(resource: StdioResource, owner: Owner): Promise<ModernProcess>;
  /** The live processes (tests, diagnostics). */
  list(): StdioProcessView[];
  /** Runs the owner check now (it also runs every checkMs). */
  check(): Promise<void>;
  /** Ends every process and waits for them: on shutdown (src/services.ts close). */
  close(): Promise<void>;
}

/** The same resource as far as a process is concerned: a change of command, env or cwd ends its processes. */
export const sameProgram = (a: StdioResource, b: StdioResource) =>
  a.id === b.id && a.url === b.url && JSON.stringify([a.command, a.env, a.cwd]) === JSON.stringify([b.command, b.env, b.cwd]);

const sameOwner = (a: Owner, b: Owner) =>
  a.userId === b.userId && a.organizationId === b.organizationId && [...a.scopes].sort().join(" ") === [...b.scopes].sort().join(" ");

export function createStdioPool(limits: StdioLimits, deps: { logger: Logger; keys: Pick<Keys, "holdsKeyAt"> }): StdioPool {
  const { logger } = deps;
  const live = new Set<Entry>();
  const bySession = new Map<string, Entry<Bridge>>();
  /** Processes that have been told to end and may still be running. */
  const ending = new Set<Promise<void>>();
  let closing = false;
  let checking: Promise<void> | undefined;
  const timer = setInterval(() => void check(), limits.checkMs);
  timer.unref();

  interface Entry<C extends Child = Child> extends Running<C> {
    era: "legacy" | "modern";
    child: C;
    sessionId: string | undefined;
    open: number;
    lastUsed: number;
    idle: NodeJS.Timeout | undefined;
    serves(resource: StdioResource, owner: Owner): boolean;
  }

  function retryAfterSeconds(among: Iterable<Entry>): string {
    const now = Date.now();
    let soonest = limits.idleMs;
    for (const e of among) if (e.open === 0) soonest = Math.min(soonest, e.lastUsed + limits.idleMs - now);
    return String(Math.max(1, Math.ceil(soonest / 1000)));
  }

  const busy = (description: string, among: Iterable<Entry>) =>
    new GatewayError(503, "temporarily_unavailable", description, { "Retry-After": retryAfterSeconds(among), "Cache-Control": "no-store" });

  async function start(resource: StdioResource, owner: Owner): Promise<Session> {
    if (closing) throw busy("This instance is shutting down", []);
    const mine = [...live].filter((e) => e.era === "legacy" && e.resource.id === resource.id && e.owner.userId === owner.userId);
    // An MCP host keeps its session's GET stream open while it runs, so "least recently used" is by
    // the last request begun or ended, open or not: the host that initializes again is the one in use.
    for (const e of mine.sort((a, b) => a.lastUsed - b.lastUsed).slice(0, mine.length - limits.sessionsPerUser + 1)) void e.end("evicted");
    const { openBridge } = await import("./bridge.js"); // the MCP SDK's transports load on first use only
    return launch<Bridge>("legacy", resource, owner, (spec, hooks) =>
      openBridge(spec, {
        ...hooks,
        onSession: (id) => {
          hooks.entry.sessionId = id;
          if (live.has(hooks.entry)) bySession.set(id, hooks.entry);
        },
      }),
    );
  }

  /** Starting modern processes by owner: concurrent first requests of one owner share one start. */
  const startingModern = new Map<string, Promise<Entry<Link>>>();

  async function modern(resource: StdioResource, owner: Owner): Promise<ModernProcess> {
    for (const e of live)
      // era "modern" entries are the ones launch<Link> made.
      if (e.era === "modern" && e.child && e.serves(resource, owner) && sameProgram(e.resource, resource)) return e as Entry<Link>;
    const key = JSON.stringify([resource.id, owner.userId, owner.organizationId, [...owner.scopes].sort()]);
    const pending = startingModern.get(key);
    if (pending) return pending;
    // A process of this owner started from an older version of the resource: its program has changed.
    for (const e of live) if (e.era === "modern" && e.serves(resource, owner) && !sameProgram(e.resource, resource)) void e.end("changed");
    const starting = (async () => {
      const { openLink } = await import("./link.js");
      return launch<Link>("modern", resource, owner, (spec, hooks) => openLink(spec, hooks));
    })().finally(() => startingModern.delete(key));
    startingModern.set(key, starting);
    return starting;
  }

  interface OpenHooks<C extends Child> {
    logger: Logger;
    tags: { resource: string; userId: string };
    entry: Entry<C>;
    onEnd(reason: EndReason, finished: Promise<void>): void;
  }

  async function launch<C extends Child>(
    era: "legacy" | "modern",
    resource: StdioResource,
    owner: Owner,
    open: (spec: ProcessSpec, hooks: OpenHooks<C>) => Promise<C>,
  ): Promise<Entry<C>> {
    if (closing) throw busy("This instance is shutting down", []);
    const ofResource = [...live].filter((e) => e.resource.id === resource.id);
    if (ofResource.length >= limits.maxPerResource)
      throw busy(`${resource.name} runs as many processes as it may on this instance; try again later`, ofResource);
    if (live.size >= limits.max) throw busy("This gateway runs as many stdio processes as it may; try again later", live);

    const tags = { resource: resource.slug, userId: owner.userId };
    // Counted from here on, while it starts, so that concurrent starts cannot pass the caps together.
    const entry: Entry<C> = {
      era,
      resource,
      owner,
      child: undefined as unknown as C,
      sessionId: undefined,
      open: 0,
      lastUsed: Date.now(),
      idle: undefined,
      begin() {
        entry.open++;
        entry.lastUsed = Date.now();
        if (entry.idle) clearTimeout(entry.idle);
        entry.idle = undefined;
        let done = false;
        return () => {
          if (done) return;
          done = true;
          entry.open--;
          entry.lastUsed = Date.now();
          if (entry.open === 0 && live.has(entry)) armIdle(entry);
        };
      },
      serves: (r, o) => r.id === resource.id && sameOwner(owner, o),
      end: (reason) => (entry.child ? entry.child.end(reason) : Promise.resolve(forget(entry))),
    };
    live.add(entry);
    try {
      entry.child = await open(
        { command: resource.command, env: processEnvironment(resource.env, owner), cwd: resource.cwd },
        {
          logger,
          tags,
          entry,
          onEnd: (_reason, finished) => {
            forget(entry);
            ending.add(finished);
            void finished.finally(() => ending.delete(finished));
          },
        },
      );
    } catch (err) {
      forget(entry);
      logger.warn({ ...tags, err }, "stdio server process could not be started");
      throw new GatewayError(502, "upstream_unavailable", `The MCP server ${resource.name} could not be started`, {
        "Cache-Control": "no-store",
      });
    }
    if (!live.has(entry)) {
      // Ended while it started (shutdown, the owner check): it never served anyone.
      await entry.child.end("shutdown");
      throw busy("This process was ended while it started; try again", []);
    }
    armIdle(entry);
    return entry;
  }

  function armIdle(entry: Entry) {
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = setTimeout(() => void entry.end("idle"), limits.idleMs);
    entry.idle.unref();
  }

  function forget(entry: Entry) {
    live.delete(entry);
    if (entry.sessionId !== undefined && bySession.get(entry.sessionId) === entry) bySession.delete(entry.sessionId);
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = undefined;
  }

  function check(): Promise<void> {
    if (live.size === 0) return Promise.resolve();
    checking ??= (async () => {
      const groups = new Map<string, Entry[]>();
      for (const e of live) {
        const k = JSON.stringify([e.owner.userId, e.owner.organizationId, e.resource.url]);
        groups.set(k, [...(groups.get(k) ?? []), e]);
      }
      for (const entries of groups.values()) {
        const { owner, resource } = entries[0]!;
        try {
          if (await deps.keys.holdsKeyAt(owner, resource.url)) continue;
          for (const e of entries) void e.end("revoked");
        } catch (err) {
          logger.warn({ err, resource: resource.slug }, "stdio processes: the owner check failed; it runs again later");
        }
      }
    })().finally(() => (checking = undefined));
    return checking;
  }

  return {
    get: (sessionId) => bySession.get(sessionId),
    start,
    modern,
    list: () =>
      [...live].map((e) => ({
        sessionId: e.sessionId,
        era: e.era,
        resource: e.resource.slug,
        userId: e.owner.userId,
        pid: e.child?.pid ?? null,
      })),
    check,
    async close() {
      closing = true;
      clearInterval(timer);
      await Promise.all([...live].map((e) => e.end("shutdown")));
      await Promise.all(ending);
    },
  };
}
