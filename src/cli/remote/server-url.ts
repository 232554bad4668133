// The server a remote command talks to, written one way: scheme + host (+ port) + path, no
// trailing slash, no query. Credentials are filed under this string.
import { CliError } from "../errors.js";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function normaliseServerUrl(input: string): string {
  const url = URL.parse(input.trim());
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) throw CliError.usage(`--server: ${input} is not an http(s) URL`);
  if (url.username || url.password) throw CliError.usage("--server: the URL must not contain a user name or password");
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname)) {
    throw CliError.usage(`--server: use https:// (plain http would send the key in clear; it is allowed only for localhost)`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
