// "Forgot password?" as the mail tests go through it, against the test SMTP server (./smtp.ts): ask
// for a link on the form, read the link the mail carries, and set a new password with it.
import { csrfFrom, type browser, type Reachable } from "./server.js";
import { linkIn, type TestSmtp } from "./smtp.js";

type Agent = ReturnType<typeof browser>;

export const RESET_SUBJECT = "Reset your Keyward password";

/** Asks for a reset link for `email` on the forgot-password form (GET it: 200, POST it); the POST's answer. */
export async function askForResetLink(agent: Agent, email: string) {
  const form = await agent.get("/forgot-password").expect(200);
  return agent
    .post("/forgot-password")
    .type("form")
    .send({ _csrf: csrfFrom(form.text), email });
}

/** The link in the reset mail to `email`, once that mail has arrived. */
export async function mailedResetLink(server: Reachable, smtp: TestSmtp, email: string): Promise<string> {
  const [mail] = await smtp.waitFor(email, { subject: RESET_SUBJECT });
  return linkIn(mail!, `${server.url}/reset-password?token=`);
}

/** Opens the reset `link` in `agent` and submits its form with `password` (and `confirm`); the page and the answer. */
export async function submitReset(server: Reachable, agent: Agent, link: string, password: string, confirm = password) {
  const form = await agent.get(link.slice(server.url.length));
  const token = new URL(link).searchParams.get("token")!;
  // A spent or expired link's page has no form: the browser's token from the log-in page then.
  const csrf = form.status === 200 ? csrfFrom(form.text) : csrfFrom((await agent.get("/login").expect(200)).text);
  return {
    form,
    res: await agent.post("/reset-password").type("form").send({ _csrf: csrf, token, new_password: password, confirm_password: confirm }),
  };
}
