// Confirming what cannot be undone, without JavaScript: the action's GET shows a page that says in
// words what will happen (Cancel first and focused), and its POST acts only when that page's form
// sent `confirm=yes`. A POST without it (an old form, a script) shows the same page instead of acting.
import type { Ctx } from "../http/state.js";
import { sendPage } from "./render.js";

export const CONFIRM_FIELD = "confirm";
const CONFIRM_VALUE = "yes";

export interface Confirmation {
  /** The question, as the page's heading: "Remove bob@example.com from Acme?" */
  question: string;
  /** What happens, one sentence a paragraph. */
  consequences: string[];
  /** Where the confirming form posts (the same path as the action). */
  action: string;
  /** The confirming button: "Yes, remove bob@example.com". */
  confirmLabel: string;
  /** Where Cancel goes: the page the action started from. */
  cancelHref: string;
  /** Fields the action needs, sent again with the confirmation (e.g. the new role). */
  fields?: Record<string, string>;
}

/** The confirmation page's form said yes. */
export function confirmed(ctx: Ctx): boolean {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  return body?.[CONFIRM_FIELD] === CONFIRM_VALUE;
}

export function sendConfirmation(ctx: Ctx, confirmation: Confirmation): Promise<void> {
  return sendPage(ctx, "confirm", {
    title: confirmation.question,
    fields: {},
    confirmField: CONFIRM_FIELD,
    confirmValue: CONFIRM_VALUE,
    ...confirmation,
  });
}
