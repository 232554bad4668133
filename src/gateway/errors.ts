// The gateway's own answers: JSON `{ error, error_description }` (OAuth-shaped, like every Keyward
// error), never an upstream URL, address or stack. errorHandler (src/http/errors.ts) writes them.
import { HttpError } from "../http/errors.js";

export class GatewayError extends HttpError {}

export const notFound = () => new GatewayError(404, "not_found", "No MCP server at this address", { "Cache-Control": "no-store" });

export const methodNotAllowed = () =>
  new GatewayError(405, "method_not_allowed", "An MCP server takes POST, GET (its stream) and DELETE (end a session)", {
    Allow: "GET, POST, DELETE",
  });

export const tooManyStreams = (limit: number) =>
  new GatewayError(429, "too_many_requests", `This key has ${limit} requests or streams open at this server already; close one first`, {
    "Retry-After": "1",
  });

/** What the client hears when the upstream cannot be reached (502) or does not answer in time (504). */
export function upstreamFailure(
  kind: "unreachable" | "timeout" | "refused",
  name: string,
): { status: number; body: Record<string, string> } {
  switch (kind) {
    case "timeout":
      return { status: 504, body: { error: "upstream_timeout", error_description: `The MCP server ${name} did not answer in time` } };
    case "refused":
      return {
        status: 502,
        body: { error: "upstream_refused", error_description: `The MCP server ${name} refused the gateway's request` },
      };
    default:
      return { status: 502, body: { error: "upstream_unavailable", error_description: `The MCP server ${name} is not reachable` } };
  }
}
