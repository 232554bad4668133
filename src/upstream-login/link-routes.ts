// The account's sign-in methods (docs/upstream-login.md#sign-in-methods):
//   GET  /app/account/sign-in-methods             the password (set or not) and every identity linked,
//                                                 with a "Link" button per configured provider not linked;
//   POST /app/account/sign-in-methods/link/<id>   starts the provider's flow (./flow.ts) in link mode: the
//                                                 sealed cookie names this account and this session, and
//                                                 the callback (./routes.ts → finishLink) links, never logs in;
//   POST /app/account/sign-in-methods/unlink/<id> unlinks, unless no way to sign in would be left;
//   POST /app/account/sign-in-methods/confirm/<id> "Confirm it's you with <provider>": the flow again with
//                                                 prompt=login and max_age=0 (OIDC Core 3.1.2.1), sealed
//                                                 with this account and session; the callback (finishConfirm)
//                                                 records a fresh authentication on the session, never logs in.
// Link and unlink are CSRF-checked and need a recent authentication: the password again when the account
// logs in with one, otherwise a session logged in, or confirmed through a linked provider, at most
// REAUTH_WINDOW ago (the way GitHub's sudo mode re-asks: without a password, the provider is the proof).
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import type { PublicUser } from "../accounts/users.js";
import { tokenDigest } from "../accounts/token-digest.js";
import { requestMeta } from "../http/request-meta.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "../web/csrf.js";
import { sendPage } from "../web/render.js";
import { loginUrlFor } from "../web/require-login.js";
import { passwordReauth, type ReauthProblem } from "../web/reauth.js";
import { signInMethodNotice } from "../mail/notices.js";
import type { UpstreamProvider } from "./config.js";
import type { UpstreamClaims } from "./accounts.js";
import { UpstreamUnavailable } from "./discovery.js";
import { upstreamFlow } from "./flow.js";
import type { PendingUpstreamLogin } from "./pending-state.js";
import { linkIdentity, listIdentities, unlinkIdentity, type LinkOutcome } from "./identities.js";

export const SIGN_IN_METHODS_PAGE = "/app/account/sign-in-methods";
/** Without a password to ask for, a link or unlink needs a log-in at most this old. */
export const REAUTH_WINDOW_MS = 10 * 60_000;

const passwordForm = z.object({ password: z.string().max(5000).default("") });

const NOTICES: Record<string, string> = {
  linked: "Linked. You can now log in with it.",
  unlinked: "Unlinked. It no longer logs in to this account.",
  confirmed: `Confirmed. For the next ${REAUTH_WINDOW_MS / 60_000} minutes you can link and unlink sign-in methods.`,
};

/**
 * How old a confirmation's `auth_time` may be: the provider was asked to log the person in again
 * (prompt=login, max_age=0), so its log-in is from just now; this much for the two clocks and the round
 * trip. An older one means the provider did not ask again (it ignored prompt=login).
 */
const FRESH_AUTH_MS = 60_000;
const CONFIRM_FAILED = "Confirming did not work";

/** Whether the session logged in, or last confirmed it was its person, within REAUTH_WINDOW. */
const isRecent = (session: NonNullable<KeywardState["session"]>) =>
  Date.now() - Math.max(session.createdAt.getTime(), session.reauthenticatedAt?.getTime() ?? 0) <= REAUTH_WINDOW_MS;

/** The browser's session, when it is still the one (of the account) that started the provider's flow. */
function startingSession(ctx: Ctx, bound: { userId: string; session: string }) {
  const session = ctx.state.session;
  return session && session.user.id === bound.userId && tokenDigest(session.token) === bound.session ? session : null;
}

const LINK_REFUSALS: Record<Exclude<LinkOutcome, "linked">, (name: string) => string> = {
  already_yours: (name) => `This ${name} account is already linked to your Keyward account.`,
  // Never whose: that would tell the person at the provider who holds the identity here.
  taken: (name) =>
    `This ${name} account is already linked to another Keyward account, so it was not linked to yours. Log in with it to reach that account, or link a different ${name} account.`,
  provider_taken: (name) => `Your Keyward account is already linked to a ${name} account. Unlink it first to link another.`,
};

export function linkProblemPage(ctx: Ctx, status: number, message: string, title = "Linking did not work"): Promise<void> {
  return sendPage(
    ctx,
    "upstream-login-error",
    { title, message, returnTo: "", back: { href: SIGN_IN_METHODS_PAGE, label: "Back to your sign-in methods" } },
    status,
  );
}

/** Links the identity the provider vouched for to the account that started the link, from the session that started it. */
export async function finishLink(
  services: Services,
  ctx: Ctx,
  p: UpstreamProvider,
  link: NonNullable<PendingUpstreamLogin["link"]>,
  claims: UpstreamClaims,
): Promise<void> {
  const session = startingSession(ctx, link);
  // Another session (logged out, or someone else logged in) in this browser since the start: nothing is linked.
  if (!session)
    return linkProblemPage(
      ctx,
      403,
      `This browser is no longer logged in as the account that started linking ${p.name}, so nothing was linked. Log in and start again.`,
    );
  if (p.allowedDomains.length) {
    const email = claims.email?.toLowerCase() ?? "";
    if (!claims.emailVerified || !p.allowedDomains.includes(email.slice(email.lastIndexOf("@") + 1)))
      return linkProblemPage(ctx, 403, `Your ${p.name} account's verified email address is not at a domain allowed to log in here.`);
  }
  const outcome = await linkIdentity(services.db, link.userId, p.id, claims.subject, claims.emailVerified ? claims.email : null);
  if (outcome !== "linked") return linkProblemPage(ctx, outcome === "already_yours" ? 409 : 403, LINK_REFUSALS[outcome](p.name));
  await recordChange(services, ctx, session.user, "linked", p);
  ctx.status = 303;
  ctx.redirect(`${SIGN_IN_METHODS_PAGE}?notice=linked`);
}

/**
 * Records a fresh authentication on the session that asked for it, when the provider vouched, just now,
 * for the identity this account has linked there. Anything else changes nothing: another session or
 * account in the browser since the start, another account at the provider, or no auth_time or one older
 * than a minute (the provider did not ask again).
 */
export async function finishConfirm(
  services: Services,
  ctx: Ctx,
  p: UpstreamProvider,
  confirm: NonNullable<PendingUpstreamLogin["confirm"]>,
  claims: { sub: string; auth_time?: unknown },
): Promise<void> {
  const session = startingSession(ctx, confirm);
  if (!session)
    return linkProblemPage(
      ctx,
      403,
      `This browser is no longer logged in as the account that asked to confirm it with ${p.name}, so nothing changed. Log in and start again.`,
      CONFIRM_FAILED,
    );
  const linked = await services.db.upstreamIdentity.findUnique({
    where: { providerId_userId: { providerId: p.id, userId: confirm.userId } },
    select: { subject: true },
  });
  if (linked?.subject !== claims.sub)
    return linkProblemPage(
      ctx,
      403,
      `You logged in to ${p.name} as another account than the one linked to your Keyward account, so nothing changed. Log in there as the linked account and try again.`,
      CONFIRM_FAILED,
    );
  const authTime = typeof claims.auth_time === "number" ? claims.auth_time * 1000 : null;
  if (authTime === null || Date.now() - authTime > FRESH_AUTH_MS)
    return linkProblemPage(
      ctx,
      403,
      `${p.name} did not say it asked you to log in again just now, so Keyward cannot count this as a recent log-in and nothing changed.`,
      CONFIRM_FAILED,
    );
  // As of when the provider says the log-in happened, never later than now (a provider's clock ahead of ours
  // gives no extra time).
  await services.sessions.markReauthenticated(session.token, new Date(Math.min(authTime, Date.now())));
  await recordEvent(services, ctx, session.user, "reauth.upstream", p);
  ctx.status = 303;
  ctx.redirect(`${SIGN_IN_METHODS_PAGE}?notice=confirmed`);
}

const recordEvent = (services: Services, ctx: Ctx, user: PublicUser, action: string, p: { id: string; name: string }) =>
  services.audit.record({
    userId: user.id,
    actor: { type: "user", id: user.id },
    action,
    ...requestMeta(ctx),
    details: { provider: p.id, providerName: p.name },
  });

async function recordChange(
  services: Services,
  ctx: Ctx,
  user: PublicUser,
  change: "linked" | "unlinked",
  p: { id: string; name: string },
) {
  const meta = requestMeta(ctx);
  await recordEvent(services, ctx, user, `identity.${change}`, p);
  signInMethodNotice(services.mailer, services.db, `${services.config.baseUrl}${SIGN_IN_METHODS_PAGE}`, {
    userId: user.id,
    change,
    providerName: p.name,
    ...meta,
    at: new Date(),
  });
}

export function signInMethodsRoutes(services: Services): Router<KeywardState> {
  const { config, users, db, logger } = services;
  const router = new Router<KeywardState>({ prefix: SIGN_IN_METHODS_PAGE });
  const flow = upstreamFlow(services);
  const checkPassword = passwordReauth(services);

  const loggedIn = (ctx: Ctx): PublicUser => {
    const user = ctx.state.session?.user;
    if (!user) throw new HttpError(401, "unauthorized", "Log in to change your account's sign-in methods.");
    return user;
  };
  /** The password counts as a way in only while LOCAL_PASSWORDS allows password log-in. */
  const usesPassword = async (userId: string) => config.localPasswords && (await users.hasLocalPassword(userId));

  /** The linked providers a session too old to link or unlink can confirm it is its person with (none when a password is asked). */
  const confirmable = (ctx: Ctx, asksPassword: boolean, identities: Awaited<ReturnType<typeof listIdentities>>) =>
    asksPassword || isRecent(ctx.state.session!) ? [] : identities.filter((i) => i.configured);

  const page = async (ctx: Ctx, user: PublicUser, extras: { error?: string; notice?: string } = {}, status = 200) => {
    const identities = await listIdentities(db, config.upstreamProviders, user.id);
    const hasPassword = await users.hasLocalPassword(user.id);
    const asksPassword = config.localPasswords && hasPassword; // usesPassword(), from what is read already
    await sendPage(
      ctx,
      "sign-in-methods",
      {
        title: "Sign-in methods",
        hasPassword,
        localPasswords: config.localPasswords,
        // A provider-made account gets a password by the reset mail (src/mail/routes.ts), which also proves the address.
        canSetPassword: config.localPasswords && services.mailer.enabled,
        asksPassword,
        identities,
        unlinked: config.upstreamProviders.filter((p) => !identities.some((i) => i.providerId === p.id)),
        confirmWith: confirmable(ctx, asksPassword, identities),
        error: extras.error ?? "",
        notice: extras.notice ?? "",
      },
      status,
    );
  };

  /** The recent authentication a link or unlink needs; null when it is there. */
  const reauthProblem = async (ctx: Ctx, user: PublicUser): Promise<ReauthProblem | null> => {
    const { password } = passwordForm.parse(ctx.request.body ?? {});
    if (await usesPassword(user.id)) return checkPassword(ctx, user.id, password);
    if (isRecent(ctx.state.session!)) return null;
    const minutes = REAUTH_WINDOW_MS / 60_000;
    return {
      status: 403,
      // Not recent and no password to ask: the page below shows a confirm button per linked, configured provider.
      message: (await listIdentities(db, config.upstreamProviders, user.id)).some((i) => i.configured)
        ? `This needs a recent log-in: press “Confirm it's you” below, then do it within ${minutes} minutes.`
        : `This needs a recent log-in: log out, log in again, and do it within ${minutes} minutes.`,
    };
  };

  /** Sends the browser to the provider (bound to this account and session), or the page saying it cannot be reached. */
  const toProvider = async (ctx: Ctx, user: PublicUser, p: UpstreamProvider, mode: "link" | "confirm", params?: Record<string, string>) => {
    let configuration;
    try {
      configuration = await flow.discovery.configurationOf(p);
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      logger.warn({ provider: p.id, err: err.message }, "upstream identity provider: discovery failed");
      return page(ctx, user, { error: `Keyward cannot reach ${p.name} right now. Try again in a few minutes.` }, 502);
    }
    const bound = { userId: user.id, session: tokenDigest(ctx.state.session!.token) };
    await flow.redirectToProvider(ctx, p, configuration, SIGN_IN_METHODS_PAGE, { [mode]: bound }, params);
  };

  /** An unknown provider id, or one this account has not linked, answers like any missing page. */
  const notFound = () => new HttpError(404, "not_found", "There is nothing at this address.");

  router.get("/", async (ctx) => {
    if (!ctx.state.session) return ctx.redirect(loginUrlFor(ctx, SIGN_IN_METHODS_PAGE));
    const notice = typeof ctx.query.notice === "string" ? (NOTICES[ctx.query.notice] ?? "") : "";
    await page(ctx, loggedIn(ctx), { notice });
  });

  router.post("/link/:id", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const p = flow.providers.get(String(ctx.params.id ?? ""));
    if (!p) throw notFound();
    const identities = await listIdentities(db, config.upstreamProviders, user.id);
    if (identities.some((i) => i.providerId === p.id)) return page(ctx, user, { error: LINK_REFUSALS.provider_taken(p.name) }, 409);
    const problem = await reauthProblem(ctx, user);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    await toProvider(ctx, user, p, "link");
  });

  // Only for a provider this account has linked (any other id: the same 404); the provider must log the
  // person in again, whatever session it has (prompt=login), and say when (max_age=0 asks for auth_time).
  router.post("/confirm/:id", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const providerId = String(ctx.params.id ?? "");
    const p = flow.providers.get(providerId);
    const identities = await listIdentities(db, config.upstreamProviders, user.id);
    if (!p || !identities.some((i) => i.providerId === p.id)) throw notFound();
    if (await usesPassword(user.id))
      return page(ctx, user, { error: "Your account has a password: enter it with the change you make instead." }, 409);
    await toProvider(ctx, user, p, "confirm", { prompt: "login", max_age: "0" });
  });

  router.post("/unlink/:id", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const providerId = String(ctx.params.id ?? "");
    const identity = (await listIdentities(db, config.upstreamProviders, user.id)).find((i) => i.providerId === providerId);
    if (!identity) throw notFound();
    const problem = await reauthProblem(ctx, user);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    const outcome = await unlinkIdentity(db, config.upstreamProviders, config.localPasswords, user.id, providerId);
    if (outcome === "not_found") throw notFound();
    if (outcome === "last_way_in")
      return page(
        ctx,
        user,
        {
          error: `${identity.providerName} is the only way to log in to this account, so it stays linked. Link another provider${config.localPasswords ? " or set a password" : ""} first.`,
        },
        409,
      );
    await recordChange(services, ctx, user, "unlinked", { id: providerId, name: identity.providerName });
    ctx.status = 303;
    ctx.redirect(`${SIGN_IN_METHODS_PAGE}?notice=unlinked`);
  });

  return router;
}
