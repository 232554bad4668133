// The Mailer service: sends one message through SMTP (nodemailer) without ever holding up or failing
// the request that triggered it. `send` returns at once; a failure is logged (never the message
// body, which may hold a single-use link) and forgotten. Without SMTP_URL it is a no-op that logs
// one debug line per message. `idle()` waits for the messages still on their way (shutdown, tests).
import nodemailer from "nodemailer";
import type { Logger } from "../log.js";

/** One mail: plain text and the same in HTML. */
export interface Message {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** True when SMTP_URL is set: pages offer mail-based features only then. */
  readonly enabled: boolean;
  /** Queues the message and returns at once; never throws. */
  send(message: Message): void;
  /** Runs `work` (e.g. a database write, then a send) without the caller waiting; a failure is logged. */
  background(what: string, work: () => Promise<void>): void;
  /** Resolves once every queued message has been handed to the SMTP server (or failed). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface MailSettings {
  smtpUrl: string | undefined;
  from: string;
}

export function createMailer(settings: MailSettings, logger: Logger): Mailer {
  const transport = settings.smtpUrl ? nodemailer.createTransport(settings.smtpUrl, { from: settings.from }) : null;
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const background = (what: string, work: () => Promise<void>) =>
    track(
      Promise.resolve()
        .then(work)
        .catch((err: unknown) => logger.error({ err: errorSummary(err) }, `mail: ${what} failed`)),
    );
  return {
    enabled: transport !== null,
    send(message) {
      if (!transport) {
        logger.debug({ subject: message.subject }, "mail: not sent (SMTP_URL is not set)");
        return;
      }
      background("sending", async () => {
        await transport.sendMail({ from: settings.from, to: message.to, subject: message.subject, text: message.text, html: message.html });
      });
    },
    background,
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      await this.idle();
      transport?.close();
    },
  };
}

/** What a failure says, without the SMTP URL's password or a message body (nodemailer errors can carry both). */
function errorSummary(err: unknown): { message: string; code?: string } {
  if (!(err instanceof Error)) return { message: "unknown error" };
  const code = (err as { code?: unknown }).code;
  return { message: err.message.replace(/\/\/[^@\s]*@/g, "//***@").slice(0, 300), ...(typeof code === "string" ? { code } : {}) };
}
