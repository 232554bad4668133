// Headless Chromium for the browser tests: Debian's `chromium`, driven by playwright-core. Outside CI a
// machine without it skips those tests; in CI (.ci/run installs it) a missing browser is a failure.
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** True where the browser tests are skipped: no Chromium here, and not in CI. */
export const noBrowser = !existsSync(CHROMIUM) && process.env.CI !== "true";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

/** Where an authorization request sent a logged-out browser: waits for the log-in page and logs in there. */
export async function logInWhenAsked(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.waitForURL((u) => u.pathname === "/login");
  const form = page.locator('form[action="/login"]');
  await form.locator('input[name="email"]').fill(user.email);
  await form.locator('input[name="password"]').fill(user.password);
  await form.locator('button[type="submit"]').click();
}
