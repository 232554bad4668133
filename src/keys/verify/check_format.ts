// Garbage, typos and made-up strings stop here, before any database work.
import { checkFormat } from "../format.js";
import type { VerifyStep } from "./context.js";

export const check_format: VerifyStep = (ctx) => (checkFormat(ctx.raw) ? "invalid_format" : undefined);
