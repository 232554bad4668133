// The Mailer service: sends one message through SMTP (nodemailer) without ever holding up or failing
// the request that triggered it. `send` returns at once. A failure the SMTP server may get over (no
// connection, a 4xx reply: "try again later") is tried again after 2 s, 15 s and 60 s; a refusal (5xx,
// bad credentials, a bad address) is not. What finally fails is logged (never the message body, which
// may hold a single-use link) and forgotten. Without SMTP_URL it is a no-op that logs one debug line
// per message. `idle()` waits for the messages still on their way (tests); `close()` (shutdown, the end
// of a CLI command) cuts the waits between tries short: each waiting message gets one last try at once.
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

/** The waits before each new try of a message whose sending failed for a reason that may pass. */
export const RETRY_DELAYS_MS: readonly number[] = [2_000, 15_000, 60_000];

export function createMailer(settings: MailSettings, logger: Logger, options: { retryDelaysMs?: readonly number[] } = {}): Mailer {
  const transport = settings.smtpUrl ? nodemailer.createTransport(settings.smtpUrl, { from: settings.from }) : null;
  const retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  let closing = false;
  let wakeAll = () => {};
  const closed = new Promise<void>((resolve) => (wakeAll = resolve));
  /** Waits `ms`, or less if the mailer closes meanwhile. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      void closed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
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
      const mail = { from: settings.from, to: message.to, subject: message.subject, text: message.text, html: message.html };
      background("sending", async () => {
        for (let tried = 1; ; tried++) {
          try {
            await transport.sendMail(mail);
            if (tried > 1) logger.info({ tries: tried }, "mail: sent after trying again");
            return;
          } catch (err) {
            const wait = retryDelaysMs[tried - 1];
            if (wait === undefined || closing || !mayPass(err))
              throw Object.assign(new Error("sending failed"), { cause: err, tries: tried });
            logger.warn({ err: errorSummary(err), tries: tried, retryInSeconds: wait / 1000 }, "mail: sending failed; trying again");
            await pause(wait);
          }
        }
      });
    },
    background,
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      closing = true;
      wakeAll();
      await this.idle();
      transport?.close();
    },
  };
}

/** Connection-level failures of nodemailer (and Node) that a later try may not meet. */
const PASSING_CODES = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "ECONNREFUSED", "ECONNRESET", "EPIPE", "EAI_AGAIN"]);

/** Whether a send failed for a reason that may pass: a 4xx SMTP reply (RFC 5321 §4.2.1), or no reply for want of a connection. */
function mayPass(err: unknown): boolean {
  const { responseCode, code } = (err ?? {}) as { responseCode?: unknown; code?: unknown };
  if (typeof responseCode === "number") return responseCode >= 400 && responseCode < 500;
  return typeof code === "string" && PASSING_CODES.has(code);
}

/** What a failure says, without the SMTP URL's password or a message body (nodemailer errors can carry both). */
function errorSummary(err: unknown): { message: string; code?: string; responseCode?: number; tries?: number } {
  if (!(err instanceof Error)) return { message: "unknown error" };
  const { tries, cause } = err as { tries?: unknown; cause?: unknown };
  if (typeof tries === "number") return { ...errorSummary(cause), tries }; // a send that failed: its last error
  const { code, responseCode } = err as { code?: unknown; responseCode?: unknown };
  return {
    message: err.message.replace(/\/\/[^@\s]*@/g, "//***@").slice(0, 300),
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof responseCode === "number" ? { responseCode } : {}),
  };
}
