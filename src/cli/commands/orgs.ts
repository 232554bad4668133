// keyward orgs add-member: the operator's act. Adds an existing account to an organisation directly,
// without an invitation (the web and the JSON API only invite: src/orgs/invitations.ts). Whoever runs
// it has the database, so no role is checked beyond the organisation's own rules.
import type { Command } from "commander";
import { OrgInputError } from "../../orgs/organizations.js";
import { roleSchema, ROLES } from "../../orgs/roles.js";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { out, printJson } from "../io.js";

interface AddOptions {
  role: string;
  json?: boolean;
}

export function registerOrgs(program: Command): void {
  const orgs = program.command("orgs").description("manage organisations (the operator's acts)");

  orgs
    .command("add-member")
    .description("add an existing account to an organisation directly (on the web, members are invited and accept)")
    .argument("<organizationId>", "the organisation (org_…)")
    .argument("<email>", "the account's email address")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--json", "print the membership as JSON")
    .action(async (organizationId: string, rawEmail: string, options: AddOptions, cmd: Command) => {
      // Loaded when the command runs (argon2 and the database client), not for `keyward --help`.
      const { emailSchema } = await import("../../accounts/users.js");
      const email = emailSchema.safeParse(rawEmail);
      if (!email.success) throw CliError.usage(`<email>: ${email.error.issues[0]?.message ?? "invalid email address"}`);
      const role = roleSchema.safeParse(options.role);
      if (!role.success) throw CliError.usage(`--role: ${role.error.issues[0]?.message ?? "invalid role"}`);
      const member = await withServices(cmd, async (services) => {
        if (!(await services.db.organization.findUnique({ where: { id: organizationId } })))
          throw CliError.notFound(`no organisation ${organizationId}`);
        const added = await services.orgs.addMember(organizationId, "owner", email.data, role.data).catch((err: unknown) => {
          throw err instanceof OrgInputError ? new CliError(err.message) : err;
        });
        await services.audit.record({
          userId: added.userId,
          actor: { type: "cli", id: null },
          action: "org.member_added",
          targetId: organizationId,
          details: { role: added.role },
        });
        return added;
      });
      if (options.json) printJson(member);
      else out(`Added ${member.email} to ${organizationId} as ${member.role}`);
    });

  // Issue 28: the organisation's cap on the lifetime of keys minted in it from now on (src/keys/expiry.ts).
  orgs
    .command("key-policy")
    .description("cap the lifetime of the keys minted in an organisation (owners and admins set it on the org page and the JSON API)")
    .argument("<organizationId>", "the organisation (org_…)")
    .requiredOption("--max-days <days>", "the longest lifetime in days (1–3650), or none to lift the cap")
    .option("--json", "print the policy as JSON")
    .action(async (organizationId: string, options: { maxDays: string; json?: boolean }, cmd: Command) => {
      const days = options.maxDays === "none" ? null : /^\d{1,4}$/.test(options.maxDays) ? Number(options.maxDays) : NaN;
      if (days !== null && !(days >= 1 && days <= 3650))
        throw CliError.usage("--max-days must be a whole number of days from 1 to 3650, or none");
      await withServices(cmd, async (services) => {
        if (!(await services.db.organization.findUnique({ where: { id: organizationId } })))
          throw CliError.notFound(`no organisation ${organizationId}`);
        await services.orgs.setKeyPolicy(organizationId, days);
        await services.audit.record({
          userId: null,
          actor: { type: "cli", id: null },
          action: "org.key_policy_changed",
          targetId: organizationId,
          details: { maxKeyLifetimeDays: days },
        });
      });
      if (options.json) printJson({ organizationId, maxKeyLifetimeDays: days });
      else
        out(
          days === null
            ? `Keys in ${organizationId} may live as long as their owners choose.`
            : `Keys minted in ${organizationId} from now on live at most ${days} days.`,
        );
    });
}
