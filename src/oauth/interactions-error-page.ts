// The page a browser sees when an authorization request cannot even start (oidc-provider's
// renderError: an unknown client_id, a redirect_uri the client never registered …): what happened
// in words, in the site's layout. It never redirects back to the application, which is the point:
// the request could not be trusted. Machine endpoints answer JSON and never come here.
import type { KoaContextWithOIDC } from "oidc-provider";
import ejs from "ejs";
import type { Ctx } from "../http/state.js";
import { renderPage } from "../web/render.js";
import { explainedFailure } from "../doctor/provider-events.js";

interface Words {
  heading: string;
  explanation: string[];
}

const WORDS: Record<string, Words> = {
  invalid_client: {
    heading: "This application is not registered with Keyward",
    explanation: [
      "The link you followed names an application that Keyward does not know: it may have been removed, or the link is wrong.",
      "Nothing was shared with it. Go back to the application and connect again; if this keeps happening, tell its developer.",
    ],
  },
  invalid_redirect_uri: {
    heading: "This application asked to return somewhere it did not register",
    explanation: [
      "For your safety Keyward does not send you there. Nothing was shared with the application. Go back to it and connect again, or tell its developer.",
    ],
  },
};

const FALLBACK: Words = {
  heading: "This authorization request cannot be accepted",
  explanation: [
    "Nothing was shared with the application. Go back to it and connect again; if this keeps happening, tell its developer (the details are below).",
  ],
};

const clip = (value: unknown) => (typeof value === "string" ? value.slice(0, 300) : "");

export async function renderAuthorizationError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): Promise<void> {
  const code = String(out.error);
  const words = WORDS[code] ?? FALLBACK;
  const page = ctx as unknown as Ctx;
  // Pages rendered here run before the page middleware: the layout's log-out form needs the session's token.
  page.state.csrfToken = page.state.session?.csrfToken ?? "";
  const locals = {
    title: words.heading,
    ...words,
    code,
    description: clip((await explainedFailure(ctx)) ?? out.error_description), // issue 26: the connection doctor's words
    clientId: clip(ctx.oidc?.params?.client_id),
  };
  ctx.type = "html";
  try {
    ctx.body = await renderPage(page, "oauth-error", locals);
  } catch {
    ctx.body = `<!doctype html><html lang="en"><title>Authorization error · Keyward</title><h1>${ejs.escapeXML(words.heading)}</h1><p>${ejs.escapeXML(code)}</p></html>`;
  }
}
