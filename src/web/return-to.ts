// Where to go after log-in: only a path on this server (no open redirect).
export function safeReturnTo(value: unknown, fallback = "/app/account/api-keys"): string {
  if (typeof value !== "string" || value.length > 2000) return fallback;
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\") || /[\u0000-\u001f]/.test(value)) return fallback;
  return value;
}
