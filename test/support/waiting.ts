// Waiting for what a test is not told of (a child process ending, a line in the log, an event stream
// coming back): look every 50 ms until it holds, and fail after a bounded time, naming what was awaited.

/** Resolves once `condition` holds (looked at every 50 ms); rejects after `ms` with "timed out waiting for <what>". */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether the process `pid` still runs (signal 0 only asks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
