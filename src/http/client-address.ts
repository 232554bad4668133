// THE client address: every per-IP limit, the audit trail and the sessions list read `ctx.ip`,
// which this middleware sets once, first thing, from the socket and X-Forwarded-For.
//
// Proxies append the address they saw to X-Forwarded-For, so only the right end of the header can
// be believed: everything left of what our own proxies wrote came from the client and may be
// made up. Koa's own `app.proxy` takes the LEFTMOST entry, which any client chooses.
//   - no trusted proxies: the socket address; X-Forwarded-For is ignored.
//   - `hops` n: the n-th address from the right of [ ...X-Forwarded-For, socket ] — the address
//     the outermost of our n proxies saw (n = 1: the one nginx appended).
//   - `cidrs`: walk from the socket leftwards while the address is one of our proxies; the first
//     one that is not is the client. A peer outside the list is the client itself, whatever it sends.
// An entry that is not an IP address (garbage, `unknown`, a name) ends the walk: the proxy that
// passed it on is taken as the client, so a malformed header can neither crash a request nor give
// it a counter of its own.
import { BlockList, isIP } from "node:net";
import type { Middleware } from "koa";

export type TrustedProxies =
  { kind: "none" } | { kind: "hops"; hops: number } | { kind: "cidrs"; list: readonly string[]; blocks: BlockList };

/** Parses TRUSTED_PROXIES: a hop count ("1") or addresses / CIDR ranges ("10.0.0.0/8, ::1"). Throws on a bad entry. */
export function parseTrustedProxies(value: string): TrustedProxies {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 20) throw new Error("must be a hop count from 0 to 20, or a list of addresses and CIDR ranges");
    return hops === 0 ? { kind: "none" } : { kind: "hops", hops };
  }
  const list = text.split(/[\s,]+/).filter(Boolean);
  if (list.length === 0) throw new Error("must be a hop count or a list of addresses and CIDR ranges");
  const blocks = new BlockList();
  for (const entry of list) {
    const [address = "", prefixText, ...rest] = entry.split("/");
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!family || rest.length > 0 || !(prefix >= 0 && prefix <= bits))
      throw new Error(`has an entry that is not an address or CIDR range: ${JSON.stringify(entry.slice(0, 60))}`);
    blocks.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return { kind: "cidrs", list, blocks };
}

/** An address as written by a socket or a proxy, without port or brackets, IPv4-mapped IPv6 as IPv4; null when it is not an address. */
export function normaliseAddress(raw: string): string | null {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a.toLowerCase() : null;
}

const trusts = (blocks: BlockList, address: string) => blocks.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");

/** The client's address for a request from `socketAddress` carrying `forwardedFor` (X-Forwarded-For, possibly absent). */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trusted: TrustedProxies): string {
  const socket = normaliseAddress(socketAddress ?? "") ?? socketAddress ?? "";
  if (trusted.kind === "none" || !forwardedFor) return socket;
  // Right to left: the socket peer first, then what each proxy appended.
  const chain = forwardedFor.split(",").reverse();
  let client = socket;
  if (trusted.kind === "hops") {
    for (let i = 0; i < trusted.hops && i < chain.length; i++) {
      const next = normaliseAddress(chain[i]!);
      if (!next) break;
      client = next;
    }
    return client;
  }
  if (!normaliseAddress(socket)) return socket;
  for (const entry of chain) {
    if (!trusts(trusted.blocks, client)) return client;
    const next = normaliseAddress(entry);
    if (!next) return client;
    client = next;
  }
  return client;
}

/** Sets `ctx.request.ip` for the rest of the pipeline. */
export function setClientAddress(trusted: TrustedProxies): Middleware {
  return async (ctx, next) => {
    ctx.request.ip = clientAddress(ctx.req.socket.remoteAddress, ctx.get("x-forwarded-for") || undefined, trusted);
    await next();
  };
}
