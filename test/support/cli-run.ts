// Runs the real `keyward` command (node bin/keyward.js: the compiled CLI in dist/, rebuilt first if
// src/ changed since it was built) as a child process for the client-side
// tests: a clean environment (nothing from the developer's shell), its own XDG_CONFIG_HOME.
// keywardInProcess() runs the same program in the test's own process, for argument parsing, help and usage
// errors: no child process to start (test/cli-usage.test.ts). Every test file that runs the CLI uses one of them.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const STRIPPED = [
  "DATABASE_URL",
  "KEY_PREFIX",
  "SCOPES",
  "PORT",
  "HOST",
  "ISSUER",
  "LOG_LEVEL",
  "ALLOW_SIGNUP",
  "KEYWARD_DEBUG",
  "KEYWARD_TOKEN",
  "KEYWARD_SERVER",
  "XDG_CONFIG_HOME",
  "LEGACY_KEY_PATTERN",
];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  done: Promise<Run>;
  /** Resolves with the first match of `pattern` in stderr so far or to come. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function startKeyward(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Running {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of STRIPPED) delete env[name];
  Object.assign(env, { LOG_LEVEL: "warn" }, options.env);
  const child = spawn(process.execPath, ["bin/keyward.js", ...args], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const watchers: (() => void)[] = [];
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of watchers) w();
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  child.stdin.end(options.input ?? "");
  return {
    child,
    done,
    waitForStderr(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms; stderr so far:\n${stderr}`)),
          timeoutMs,
        );
        const check = () => {
          const m = pattern.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        };
        watchers.push(check);
        void done.then(() => {
          check();
          setTimeout(() => reject(new Error(`keyward exited without ${pattern} on stderr:\n${stderr}`)), 0);
        });
        check();
      });
    },
  };
}

export function keyward(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return startKeyward(args, options).done;
}

/**
 * The CLI program (src/cli/program.ts's runCli, what bin/keyward.js runs) in this process, with stdout and stderr
 * captured and the environment cleaned as for a child. For commands that fail or finish before they open a
 * database or read stdin (help, usage errors, offline checks). Calls run one at a time: they swap process.env and
 * the process's stdout and stderr while they run.
 */
export function keywardInProcess(args: string[], options: { env?: Record<string, string> } = {}): Promise<Run> {
  const run = inProcessQueue.then(() => runInProcess(args, options.env ?? {}));
  inProcessQueue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

let inProcessQueue: Promise<void> = Promise.resolve();

async function runInProcess(args: string[], extraEnv: Record<string, string>): Promise<Run> {
  const { runCli } = await import("../../src/cli/program.js");
  const savedEnv = { ...process.env };
  for (const name of STRIPPED) delete process.env[name];
  Object.assign(process.env, { LOG_LEVEL: "warn" }, extraEnv);
  const captured = { stdout: "", stderr: "" };
  const capture = (stream: "stdout" | "stderr") => {
    const original = process[stream].write;
    process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured[stream] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
      const done = rest.find((r): r is () => void => typeof r === "function");
      done?.();
      return true;
    }) as typeof process.stdout.write;
    return () => {
      process[stream].write = original;
    };
  };
  const restore = [capture("stdout"), capture("stderr")];
  try {
    const code = await runCli([process.execPath, "keyward", ...args]);
    return { code, ...captured };
  } finally {
    for (const r of restore) r();
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
  }
}

/** The one `keyward: …` line a failing command prints. */
export function expectError(run: Run, code: number, message: RegExp) {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trim().split("\n");
  expect(lines.at(-1)).toMatch(/^keyward: /);
  expect(lines.at(-1)).toMatch(message);
}
