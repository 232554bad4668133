import { BlockList, isIP } from "node:net";

// Which redirect URIs a client may register, and the RFC 8252 §7.3 loopback rule: an http
// loopback redirect matches whatever port the client listens on at authorization time.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const FORBIDDEN_SCHEMES = new Set([
  "javascript:",
  "data:",
  "file:",
  "vbscript:",
  "about:",
  "blob:",
  "ftp:",
  "ws:",
  "wss:",
  "mailto:",
  "tel:",
]);

export type RedirectKind = "https" | "loopback" | "private-use";

/** Classifies a redirect URI, or returns why it is refused. */
export function classifyRedirectUri(value: unknown): { kind: RedirectKind } | { error: string } {
  if (typeof value !== "string" || value.length === 0 || value.length > 2000)
    return { error: "redirect_uris must be non-empty strings of at most 2000 characters" };
  if (/[\u0000-\u0020\u007f]/.test(value)) return { error: "redirect_uris must not contain spaces or control characters" };
  const url = URL.parse(value);
  if (!url) return { error: `${value} is not a valid URI` };
  if (value.includes("#")) return { error: `${value} must not contain a fragment` };
  if (url.username || url.password) return { error: `${value} must not contain user information` };
  if (url.protocol === "https:") return { kind: "https" };
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? { kind: "loopback" }
      : { error: `${value}: http is allowed only on loopback (127.0.0.1, [::1], localhost); use https` };
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return { error: `${value}: the ${url.protocol.slice(0, -1)} scheme is not allowed` };
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return { error: `${value} has an invalid scheme` };
  return { kind: "private-use" };
}

function withoutPort(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url || url.protocol !== "http:" || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  url.port = "";
  return url.href;
}

/** True when `value` is an http loopback URI equal to a registered one but for the port. */
export function loopbackPortMatch(value: string, registered: readonly string[]): boolean {
  const target = withoutPort(value);
  return target !== undefined && registered.some((r) => withoutPort(r) === target);
}

// Address ranges that are not the public internet (IANA special-purpose registries). IPv6 forms
// that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are refused wholesale: a
// client publishing its metadata there is not one to fetch from.
// (Two lists: a BlockList also checks IPv4 addresses against IPv6 rules, as IPv4-mapped addresses.)
const INTERNAL_V4 = new BlockList();
const INTERNAL_V6 = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network", 0.0.0.0
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3], // multicast, reserved, broadcast
] as const)
  INTERNAL_V4.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 96], // unspecified, loopback, IPv4-compatible
  ["::ffff:0:0", 96], // IPv4-mapped
  ["64:ff9b::", 96], // NAT64
  ["64:ff9b:1::", 48],
  ["100::", 64], // discard
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const)
  INTERNAL_V6.addSubnet(network, prefix, "ipv6");

/** Name suffixes that only mean something inside a network. */
const INTERNAL_SUFFIXES = [
  ".localhost",
  ".local",
  ".internal",
  ".intranet",
  ".lan",
  ".home",
  ".corp",
  ".home.arpa",
  ".localdomain",
  ".arpa",
];

/**
 * True for hosts that must never be fetched from: loopback, private, link-local, unique-local,
 * CGNAT, multicast and reserved addresses in any spelling (numeric, hex and octal IPv4, IPv6 with an
 * embedded IPv4 address, a trailing dot), single-label names and names under internal suffixes.
 */
export function isInternalHost(hostname: string): boolean {
  // The WHATWG URL parser is what fetch uses: it turns 0x7f.1, 2130706433 and 0177.0.0.1 into
  // 127.0.0.1 and [::127.0.0.1] into [::7f00:1], so the check sees the address that is connected to.
  const parsed = URL.parse(`http://${hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname}/`);
  if (!parsed || !parsed.hostname) return true;
  const host = parsed.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "")
    .toLowerCase();
  if (!host) return true;
  if (isIP(host) === 4) return INTERNAL_V4.check(host, "ipv4");
  if (isIP(host) === 6) return INTERNAL_V6.check(host, "ipv6");
  if (host === "localhost" || !host.includes(".")) return true;
  return INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix));
}
