// Terminal I/O for the CLI: passwords from stdin or a hidden prompt, JSON and table output.
import readline from "node:readline";
import { Writable } from "node:stream";
import { CliError, ExitCode } from "./errors.js";

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Notes for humans go to stderr, so stdout stays clean for the key or the JSON. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain left-aligned table with a header row. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Reads all of stdin and strips one trailing newline (`echo pw |` and `printf pw |` both work). */
export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Asks on stderr and returns the answer; `hidden`: without echoing what is typed. Ctrl-C or Ctrl-D cancels (exit 130). */
export async function ask(question: string, options: { hidden?: boolean } = {}): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve, reject) => {
      let answered = false;
      rl.on("SIGINT", () => rl.close());
      rl.on("close", () => {
        if (!answered) reject(new CliError("cancelled", ExitCode.interrupted));
      });
      rl.question(question, (answer) => {
        answered = true;
        resolve(answer);
      });
      muted = options.hidden === true;
    });
  } finally {
    rl.close();
    if (options.hidden) process.stderr.write("\n"); // the Enter that was not echoed
  }
}

export const promptHidden = (question: string): Promise<string> => ask(question, { hidden: true });

/** Asks a yes/no question on stderr; true for y / yes. */
export const confirm = async (question: string): Promise<boolean> => /^y(es)?$/i.test((await ask(question)).trim());

export type PasswordSource = "stdin" | "prompt";

/** Decides up front where the password will come from, so a script without one fails before any work. */
export function passwordSource(fromStdin: boolean): PasswordSource {
  if (fromStdin) return "stdin";
  if (process.stdin.isTTY && process.stderr.isTTY) return "prompt";
  throw CliError.usage("no password: pipe it in with --password-stdin, or run in a terminal to be prompted");
}

export async function readPassword(source: PasswordSource): Promise<string> {
  if (source === "stdin") return readAllStdin();
  const password = await promptHidden("Password: ");
  const again = await promptHidden("Repeat password: ");
  if (password !== again) throw CliError.usage("passwords do not match");
  return password;
}

/** Exits once stdout and stderr have flushed (pipes are asynchronous on some platforms). */
export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) =>
        new Promise<void>((resolve) => {
          if (stream.destroyed || !stream.writable) return resolve();
          stream.write("", () => resolve());
        }),
    ),
  );
  process.exit(code);
}
