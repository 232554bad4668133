// Entry point of the `keyward` command (bin/keyward.js, `npm run keyward -- …`).
import { runCli } from "./program.js";
import { exitWhenFlushed } from "./io.js";

// `keyward api-keys list | head` closes stdout early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

await exitWhenFlushed(await runCli(process.argv));
