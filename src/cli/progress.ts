// Progress of a long command on stderr (stdout stays the result). In a terminal one line is
// rewritten in place, with the seconds the step has taken; outside a terminal (--progress) each
// step is one line, and a step still running after a few seconds adds a line every 5 s.
// Disabled, every call does nothing.
export interface Progress {
  /** A new step starts: "Writing 10000 keys in one transaction…". */
  step(text: string): void;
  /** The same step moves on: "Checking hashes against the database: 2000/10000". */
  update(text: string): void;
  /** The work is done: ends the line a terminal was rewriting and says how long it all took. */
  end(): void;
  /** The work failed: ends the line a terminal was rewriting, and says nothing more. */
  abort(): void;
}

const SILENT: Progress = { step: () => undefined, update: () => undefined, end: () => undefined, abort: () => undefined };
const STILL_EVERY_MS = 5000;

export function progressOn(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled) return SILENT;
  const tty = stream.isTTY === true;
  const started = Date.now();
  let text = "";
  let stepStarted = started;
  let lastLine = started;
  const seconds = (since: number) => Math.round((Date.now() - since) / 1000);
  const redraw = () => {
    const s = seconds(stepStarted);
    stream.write(`\r\x1b[K${text}${s >= 1 ? ` (${s} s)` : ""}`);
  };
  const timer = setInterval(() => {
    if (!text) return;
    if (tty) redraw();
    else if (Date.now() - lastLine >= STILL_EVERY_MS) {
      lastLine = Date.now();
      stream.write(`  still at it: ${text} (${seconds(stepStarted)} s)\n`);
    }
  }, 1000);
  timer.unref();
  return {
    step(next) {
      if (tty && text) stream.write("\n");
      text = next;
      stepStarted = lastLine = Date.now();
      if (tty) redraw();
      else stream.write(`${next}\n`);
    },
    update(next) {
      text = next;
      if (tty) redraw();
    },
    end() {
      this.abort();
      stream.write(`Done in ${seconds(started)} s.\n`);
    },
    abort() {
      clearInterval(timer);
      if (tty && text) stream.write("\n");
      text = "";
    },
  };
}
