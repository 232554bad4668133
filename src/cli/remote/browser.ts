// Opens a URL in the user's browser without a shell: `open` (macOS), rundll32 (Windows, which
// avoids cmd.exe's parsing of & in the URL), xdg-open elsewhere. Never fatal: the URL is printed too.
import { spawn } from "node:child_process";

export function openBrowser(url: string, onFailure: () => void): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["rundll32", ["url.dll,FileProtocolHandler", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    child.on("error", onFailure);
    child.on("exit", (code) => {
      if (code !== 0 && code !== null) onFailure();
    });
    child.unref();
  } catch {
    onFailure();
  }
}
