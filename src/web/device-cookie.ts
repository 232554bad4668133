// The browser side of device cookies (src/accounts/device-cookies.ts): HttpOnly, SameSite=Lax, Secure
// behind https, sent only to /login and /login/2fa (the only readers), one account per browser.
import type { DeviceCookies } from "../accounts/device-cookies.js";
import type { Ctx } from "../http/state.js";
import { allowSecureCookies, cookieOptions } from "./session.js";

export const DEVICE_COOKIE = "kw_device";
const DEVICE_COOKIE_PATH = "/login";

export const deviceToken = (ctx: Ctx): string | undefined => ctx.cookies.get(DEVICE_COOKIE);

/**
 * After a complete log-in (every factor): the browser keeps a device cookie for this account. One it
 * already holds for the account stays; one for another account is replaced (and forgotten). True
 * when the browser had none for this account (a new device: src/mail/ may tell the account).
 */
export async function rememberDevice(deviceCookies: DeviceCookies, ctx: Ctx, userId: string, secure: boolean): Promise<boolean> {
  const current = deviceToken(ctx);
  if (await deviceCookies.forUser(current, userId)) return false;
  await deviceCookies.forget(current);
  const { token, expiresAt } = await deviceCookies.issue(userId);
  allowSecureCookies(ctx, secure);
  ctx.cookies.set(DEVICE_COOKIE, token, { ...cookieOptions(secure, expiresAt), path: DEVICE_COOKIE_PATH });
  return true;
}

export function clearDeviceCookie(ctx: Ctx, secure: boolean): void {
  allowSecureCookies(ctx, secure);
  ctx.cookies.set(DEVICE_COOKIE, "", { ...cookieOptions(secure), path: DEVICE_COOKIE_PATH, expires: new Date(0) });
}
