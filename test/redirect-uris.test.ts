import { describe, expect, it } from "vitest";
import { classifyRedirectUri, isInternalHost, loopbackPortMatch } from "../src/oauth/redirect-uris.js";

describe("redirect URI policy", () => {
  it.each([
    ["https://claude.ai/api/mcp/auth_callback", "https"],
    ["http://127.0.0.1:33418/callback", "loopback"],
    ["http://[::1]:8080/cb", "loopback"],
    ["http://localhost:6274/oauth/callback", "loopback"],
    ["vscode://vscode.github-authentication/did-authenticate", "private-use"],
    ["cursor://anysphere.cursor-retrieval/oauth/callback", "private-use"],
  ])("accepts %s as %s", (uri, kind) => {
    expect(classifyRedirectUri(uri)).toEqual({ kind });
  });

  it.each([
    "http://example.com/cb",
    "javascript:alert(1)",
    "data:text/html,x",
    "file:///etc/passwd",
    "https://a.example/cb#x",
    "https://u:p@a.example/",
    "",
    42,
  ])("refuses %s", (uri) => {
    expect(classifyRedirectUri(uri)).toHaveProperty("error");
  });

  it("matches loopback redirects on any port but nothing else", () => {
    const registered = ["http://127.0.0.1:6274/oauth/callback"];
    expect(loopbackPortMatch("http://127.0.0.1:9999/oauth/callback", registered)).toBe(true);
    expect(loopbackPortMatch("http://127.0.0.1/oauth/callback", registered)).toBe(true);
    expect(loopbackPortMatch("http://127.0.0.1:9999/oauth/other", registered)).toBe(false);
    expect(loopbackPortMatch("http://localhost:9999/oauth/callback", registered)).toBe(false);
    expect(loopbackPortMatch("https://127.0.0.1:9999/oauth/callback", registered)).toBe(false);
    expect(loopbackPortMatch("http://127.0.0.1:9999/oauth/callback?x=1", registered)).toBe(false);
  });

  // Issue 22 #9: the pre-fetch check for Client ID Metadata Documents, in every spelling a URL
  // parser (and so fetch) accepts for an internal address.
  it.each([
    "localhost.",
    "LOCALHOST",
    "metadata.google.internal.",
    "metadata.google.internal",
    "printer.local.",
    "router.home.arpa",
    "app.localhost",
    "[::127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:a9fe:a9fe]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:7f00:1::]",
    "[::]",
    "[fe80::1]",
    "[fd12:3456::1]",
    "[ff02::1]",
    "0x7f.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "127.255.255.254",
    "0.0.0.0",
    "0",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "192.0.0.170",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "10.0.0.1.",
    "",
  ])("refuses internal host %j", (host) => {
    expect(isInternalHost(host)).toBe(true);
  });

  it.each([
    "claude.ai",
    "vscode.dev",
    "example.com.",
    "8.8.8.8",
    "1.1.1.1",
    "100.128.0.1",
    "172.32.0.1",
    "[2606:4700:4700::1111]",
    "xn--bcher-kva.example",
  ])("allows public host %j", (host) => {
    expect(isInternalHost(host)).toBe(false);
  });

  it("knows internal hosts", () => {
    for (const h of [
      "localhost",
      "127.0.0.1",
      "10.1.2.3",
      "192.168.0.1",
      "172.16.5.5",
      "169.254.169.254",
      "[::1]",
      "fd00::1",
      "intranet",
      "printer.local",
    ])
      expect(isInternalHost(h), h).toBe(true);
    for (const h of ["claude.ai", "8.8.8.8", "172.32.0.1", "vscode.dev"]) expect(isInternalHost(h), h).toBe(false);
  });
});
