// The process logger. Raw keys never reach it: request logs carry method, path and status only,
// and the Authorization / X-API-Key headers are redacted should anything log a request.
import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ["req.headers.authorization", "req.headers['x-api-key']", "req.headers.cookie", "*.password", "*.key"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
