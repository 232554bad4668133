// Every mail Keyward sends, as plain text and the same in HTML. Values that come from users (key
// labels, browsers) are escaped in the HTML and kept out of subject lines; links are built from the
// configured ISSUER only, never from the request's Host header.
import ejs from "ejs";
import type { Message } from "./mailer.js";

const esc = (s: string) => ejs.escapeXML(s);

/** Paragraphs in both forms: a string is a paragraph, `{ link }` a link on a line of its own, `{ list }` a bulleted list. */
type Block = string | { link: string } | { list: string[] };

function compose(to: string, subject: string, blocks: Block[]): Message {
  const text = blocks
    .map((b) => (typeof b === "string" ? b : "link" in b ? b.link : b.list.map((item) => `  - ${item}`).join("\n")))
    .join("\n\n");
  const html = blocks
    .map((b) =>
      typeof b === "string"
        ? `<p>${esc(b)}</p>`
        : "link" in b
          ? `<p><a href="${esc(b.link)}">${esc(b.link)}</a></p>`
          : `<ul>${b.list.map((item) => `<li>${esc(item)}</li>`).join("")}</ul>`,
    )
    .join("\n");
  return { to, subject, text: `${text}\n\n-- \nKeyward\n`, html: `<!doctype html><html><body>${html}<p>-- <br>Keyward</p></body></html>` };
}

const when = (d: Date) =>
  d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");

/** A key as a list line: its label and last 4 characters. */
export const keyLine = (k: { label: string; last4: string }) => `"${k.label}" (…${k.last4})`;

export function passwordResetMessage(to: string, link: string, minutes: number): Message {
  return compose(to, "Reset your Keyward password", [
    "Someone (hopefully you) asked to reset the password of your Keyward account. Follow this link to choose a new one:",
    { link },
    `The link works once, for ${minutes} minutes. Resetting signs out every browser; your API keys keep working. If you have two-factor authentication, log-in still asks for your code.`,
    "If you did not ask for this, ignore this mail: your password stays as it is.",
  ]);
}

export function verifyEmailMessage(to: string, link: string, hours: number): Message {
  return compose(to, "Confirm your email address for Keyward", [
    "Confirm that this address belongs to your new Keyward account by following this link:",
    { link },
    `The link works once, for ${hours} hours. If you did not sign up, ignore this mail.`,
  ]);
}

export function newDeviceMessage(to: string, facts: { at: Date; ip: string | null; browser: string }, securityUrl: string): Message {
  return compose(to, "New log-in to your Keyward account", [
    "Your Keyward account was just logged in to from a browser it had not seen before:",
    { list: [`When: ${when(facts.at)}`, `Browser: ${facts.browser}`, `Address: ${facts.ip ?? "unknown"}`] },
    "If this was you, there is nothing to do. If not, change your password and sign out everywhere on your security page:",
    { link: securityUrl },
  ]);
}

export function keysRevokedMessage(to: string, keys: { label: string; last4: string }[], byWhom: string, activityUrl: string): Message {
  const one = keys.length === 1;
  return compose(to, one ? "One of your Keyward API keys was revoked" : `${keys.length} of your Keyward API keys were revoked`, [
    `${one ? "This API key was" : "These API keys were"} revoked ${byWhom}, and no longer ${one ? "works" : "work"}:`,
    { list: keys.map(keyLine) },
    "Mint a new key if you still need one. Your account activity shows the details:",
    { link: activityUrl },
  ]);
}

export function keysExpiringMessage(to: string, keys: { label: string; last4: string; expiresAt: Date }[], keysUrl: string): Message {
  const one = keys.length === 1;
  return compose(to, one ? "A Keyward API key expires within 7 days" : `${keys.length} Keyward API keys expire within 7 days`, [
    `${one ? "This API key expires" : "These API keys expire"} soon, and then stop working:`,
    { list: keys.map((k) => `${keyLine(k)}: ${when(k.expiresAt)}`) },
    "Roll a key to get its replacement (the old one keeps working for the overlap you pick), or mint a new one:",
    { link: keysUrl },
  ]);
}

/** A sign-in method (an upstream identity) was linked to or unlinked from the account (src/upstream-login/link-routes.ts). */
export function signInMethodMessage(
  to: string,
  change: "linked" | "unlinked",
  facts: { providerName: string; at: Date; ip: string | null; browser: string },
  pageUrl: string,
): Message {
  const linked = change === "linked";
  return compose(
    to,
    linked ? "A sign-in method was added to your Keyward account" : "A sign-in method was removed from your Keyward account",
    [
      linked
        ? `Logging in with ${facts.providerName} now signs in to your Keyward account:`
        : `Logging in with ${facts.providerName} no longer signs in to your Keyward account:`,
      { list: [`When: ${when(facts.at)}`, `Browser: ${facts.browser}`, `Address: ${facts.ip ?? "unknown"}`] },
      "If this was you, there is nothing to do. If not, sign out everywhere and check your sign-in methods:",
      { link: pageUrl },
    ],
  );
}
