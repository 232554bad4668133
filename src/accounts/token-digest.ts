// The one way a random bearer token (session, pending log-in, device cookie, one-time reveal) becomes
// the id of its row: its SHA-256 in hex. The token stays with the browser; a copy of the database
// hands out nothing, and every table agrees on the same digest.
import { createHash } from "node:crypto";

export const tokenDigest = (token: string): string => createHash("sha256").update(token).digest("hex");
