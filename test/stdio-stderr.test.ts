// A stdio server's stderr in the log (src/gateway/stdio/stderr.ts): one line per line, tagged, each
// cut at 2000 characters, at most 256 kB per process and then one line saying the rest is dropped.
// Unit: a stream and a recording logger (listed in test/backends.json).
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { logStderr } from "../src/gateway/stdio/stderr.js";
import type { Logger } from "../src/log.js";

function recorder() {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { lines, logger };
}

const ended = (stream: PassThrough) => new Promise((r) => stream.on("end", r));

describe("logStderr", () => {
  it("logs each line with the resource, user and pid; cuts long lines", async () => {
    const { lines, logger } = recorder();
    const stream = new PassThrough();
    logStderr(stream, logger, { resource: "files", userId: "usr_1", pid: 42 });
    stream.write("first li");
    stream.write("ne\r\nsecond\n\n");
    stream.end(`${"x".repeat(5000)}\nlast without newline`);
    stream.resume();
    await ended(stream);
    const texts = lines.map((l) => l.fields.stderr as string);
    expect(texts.slice(0, 2)).toEqual(["first line", "second"]);
    expect(texts.every((t) => t.length <= 2001)).toBe(true);
    expect(texts.at(-1)).toBe("last without newline");
    expect(lines[0]!.fields).toMatchObject({ resource: "files", userId: "usr_1", pid: 42 });
    expect(lines[0]!.msg).toBe("stdio server stderr");
  });

  it("stops after 256 kB with one line saying so", async () => {
    const { lines, logger } = recorder();
    const stream = new PassThrough();
    logStderr(stream, logger, { resource: "files", userId: "usr_1", pid: 42 });
    for (let i = 0; i < 400; i++) stream.write(`${"y".repeat(999)}\n`);
    stream.end();
    stream.resume();
    await ended(stream);
    const logged = lines.filter((l) => l.fields.stderr !== undefined).reduce((n, l) => n + (l.fields.stderr as string).length, 0);
    expect(logged).toBeLessThanOrEqual(256 * 1024 + 2001);
    expect(lines.filter((l) => /dropped/.test(l.msg))).toHaveLength(1);
    expect(lines.at(-1)!.msg).toMatch(/the rest of this process's stderr is dropped/);
  });
});
