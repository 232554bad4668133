// IP allowlists: what a key (or an OAuth client's keys) may be limited to, and the check of a
// request's address against them. Stored in the key row's `allowedIps` column as canonical CIDR
// ranges separated by spaces (null: any address).
//
// Parsing is strict, with a message that says what is wrong: an IPv4 or IPv6 address, optionally
// `/prefix` (decimal, no leading zeros, ≤ 32 or ≤ 128); a bare address is /32 or /128; no zone ids,
// ports or brackets; no bits set beyond the prefix (203.0.113.5/24 is refused with "did you mean
// 203.0.113.0/24?", since the writer probably meant one host or one network and we cannot know which).
// IPv4-mapped IPv6 (::ffff:a.b.c.d/p, p ≥ 96) is stored as the IPv4 range it names, because the
// client address (src/http/client-address.ts normaliseAddress) turns mapped addresses into IPv4.
import { BlockList, isIP } from "node:net";

export const MAX_ALLOWED_RANGES = 50;

export type AllowlistParse = { ok: true; ranges: string[] } | { ok: false; message: string };

const PREFIX = /^(0|[1-9]\d{0,2})$/;

function v4Value(address: string): bigint {
  return address.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
}

/** An IPv6 address (any valid spelling, no zone) as a 128-bit number. */
function v6Value(address: string): bigint {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = v4Value(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${((v4 >> 16n) & 0xffffn).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function v6Text(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1); // the canonical (RFC 5952) spelling
}

const masked = (value: bigint, bits: number, prefix: number) => (value >> BigInt(bits - prefix)) << BigInt(bits - prefix);

/** One entry → its canonical CIDR range, or a message naming the entry. */
export function parseRange(entry: string): { ok: true; range: string } | { ok: false; message: string } {
  const shown = JSON.stringify(entry.length > 60 ? `${entry.slice(0, 60)}…` : entry);
  const [address = "", prefixText, ...rest] = entry.split("/");
  if (rest.length > 0) return { ok: false, message: `${shown} has more than one "/"` };
  if (address.includes("%")) return { ok: false, message: `${shown}: zone ids (%…) are not allowed` };
  const family = isIP(address);
  if (!family) return { ok: false, message: `${shown} is not an IPv4 or IPv6 address (write e.g. 203.0.113.0/24 or 2001:db8::/32)` };
  let bits = family === 6 ? 128 : 32;
  if (prefixText !== undefined && !PREFIX.test(prefixText))
    return { ok: false, message: `${shown}: the prefix after "/" must be a number from 0 to ${bits}` };
  let prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return { ok: false, message: `${shown}: the prefix after "/" must be a number from 0 to ${bits}` };
  let value = family === 6 ? v6Value(address) : v4Value(address);
  let v4 = family === 4;
  if (!v4 && value >> 32n === 0xffffn) {
    // IPv4-mapped IPv6: the IPv4 range it stands for.
    if (prefix < 96) return { ok: false, message: `${shown}: an IPv4-mapped range needs a prefix of at least /96` };
    value &= 0xffffffffn;
    prefix -= 96;
    bits = 32;
    v4 = true;
  }
  const network = masked(value, bits, prefix);
  const text = (n: bigint) => (v4 ? v4Text(n) : v6Text(n));
  if (network !== value)
    return { ok: false, message: `${shown} has bits set after its /${prefix} prefix: did you mean ${text(network)}/${prefix}?` };
  return { ok: true, range: `${text(network)}/${prefix}` };
}

/**
 * An allowlist as typed or sent: one string (entries separated by spaces, commas or new lines) or a
 * list. Empty → `ranges: []` (the caller decides whether that clears the list). Duplicates dropped.
 */
export function parseAllowlist(input: string | readonly string[]): AllowlistParse {
  const entries = (typeof input === "string" ? [input] : input).flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
  if (entries.length > MAX_ALLOWED_RANGES) return { ok: false, message: `At most ${MAX_ALLOWED_RANGES} IP ranges per allowlist` };
  const ranges: string[] = [];
  for (const entry of entries) {
    const parsed = parseRange(entry);
    if (!parsed.ok) return { ok: false, message: `IP allowlist: ${parsed.message}` };
    if (!ranges.includes(parsed.range)) ranges.push(parsed.range);
  }
  return { ok: true, ranges };
}

/** The stored column → the list (null: any address). */
export function allowedRanges(column: string | null): string[] | null {
  return column ? column.split(" ").filter(Boolean) : null;
}

const compiled = new Map<string, BlockList>();
const MAX_COMPILED = 1000;

function compile(column: string): BlockList {
  let list = compiled.get(column);
  if (list) return list;
  list = new BlockList();
  for (const range of column.split(" ")) {
    const [address = "", prefix = ""] = range.split("/");
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? "ipv6" : "ipv4");
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(column, list);
  return list;
}

/** Whether `address` (a client address as src/http/client-address.ts gives it) is in the stored allowlist. */
export function addressAllowed(column: string, address: string): boolean {
  const family = isIP(address);
  if (!family) return false; // not an address (a socket that closed, a proxy's garbage): never in a list
  return compile(column).check(address, family === 6 ? "ipv6" : "ipv4");
}
