// A real SMTP server for the mail tests (smtp-server on 127.0.0.1, port 0): every message it accepts
// is parsed with mailparser and kept, so a test reads what Keyward really sent.
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

export interface TestSmtp {
  url: string;
  /** Every message received so far, oldest first. */
  mails: ReceivedMail[];
  /** The mails to `address`, only those with this subject when one is given. */
  to(address: string, subject?: string): ReceivedMail[];
  /** MAIL FROM commands received so far: one per try of a message, accepted or not. */
  readonly tries: number;
  /** Refuses the next messages, one reply code each (4xx: try again later; 5xx: refused), at MAIL FROM. */
  refuseNext(...replyCodes: number[]): void;
  /** Waits until `address` has received `count` mails (default 1; only those with `subject` when given); returns them all. */
  waitFor(address: string, options?: { count?: number; subject?: string; timeoutMs?: number }): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const refusals: number[] = [];
  let tries = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"], // plain smtp:// on loopback: nodemailer would try to upgrade to TLS otherwise
    logger: false,
    onMailFrom(_address, _session, callback) {
      tries++;
      const code = refusals.shift();
      if (code === undefined) return callback();
      callback(Object.assign(new Error(code >= 500 ? "Refused" : "Try again later"), { responseCode: code }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const rcpt = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
          for (const to of rcpt)
            mails.push({
              to,
              from: parsed.from?.text ?? "",
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : "",
            });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  const to = (address: string, subject?: string) =>
    mails.filter((m) => m.to === address.toLowerCase() && (subject === undefined || m.subject === subject));
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    get tries() {
      return tries;
    },
    refuseNext: (...codes) => void refusals.push(...codes),
    to,
    async waitFor(address, { count = 1, subject, timeoutMs = 10_000 } = {}) {
      const until = Date.now() + timeoutMs;
      while (to(address, subject).length < count) {
        if (Date.now() > until)
          throw new Error(`expected ${count} mail(s) to ${address} (${subject ?? "any subject"}), got ${to(address, subject).length}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return to(address, subject);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a mail's text that starts with `prefix` (e.g. `${server.url}/reset-password`). */
export function linkIn(mail: ReceivedMail, prefix: string): string {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`${escaped}[^\\s]*`).exec(mail.text);
  if (!m) throw new Error(`no link starting ${prefix} in: ${mail.text}`);
  return m[0];
}
