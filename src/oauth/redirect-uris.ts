// Which redirect URIs a client may register, and the RFC 8252 §7.3 loopback rule: an http
// loopback redirect matches whatever port the client listens on at authorization time.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const FORBIDDEN_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "about:", "blob:", "ftp:", "ws:", "wss:", "mailto:", "tel:"]);

export type RedirectKind = "https" | "loopback" | "private-use";

/** Classifies a redirect URI, or returns why it is refused. */
export function classifyRedirectUri(value: unknown): { kind: RedirectKind } | { error: string } {
  if (typeof value !== "string" || value.length === 0 || value.length > 2000) return { error: "redirect_uris must be non-empty strings of at most 2000 characters" };
  if (/[\u0000-\u0020\u007f]/.test(value)) return { error: "redirect_uris must not contain spaces or control characters" };
  const url = URL.parse(value);
  if (!url) return { error: `${value} is not a valid URI` };
  if (value.includes("#")) return { error: `${value} must not contain a fragment` };
  if (url.username || url.password) return { error: `${value} must not contain user information` };
  if (url.protocol === "https:") return { kind: "https" };
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname) ? { kind: "loopback" } : { error: `${value}: http is allowed only on loopback (127.0.0.1, [::1], localhost); use https` };
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

/** Loopback, private, link-local and unique-local addresses, and names that only mean "this network". */
export function isInternalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".") && !host.includes(":")) return true;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  if (host.includes(":")) return host === "::1" || host === "::" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith("::ffff:");
  return false;
}
