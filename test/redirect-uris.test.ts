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

  it.each(["http://example.com/cb", "javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "https://a.example/cb#x", "https://u:p@a.example/", "", 42])("refuses %s", (uri) => {
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

  it("knows internal hosts", () => {
    for (const h of ["localhost", "127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254", "[::1]", "fd00::1", "intranet", "printer.local"]) expect(isInternalHost(h), h).toBe(true);
    for (const h of ["claude.ai", "8.8.8.8", "172.32.0.1", "vscode.dev"]) expect(isInternalHost(h), h).toBe(false);
  });
});
