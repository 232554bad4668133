// ~/.config/keyward/credentials.json (or $XDG_CONFIG_HOME/keyward/…): one stored key per server,
// the file 0600 in a 0700 directory, written atomically (temp file + rename). KEYWARD_TOKEN in the
// environment wins over the file, for CI and agents that must not persist secrets.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { CliError } from "../errors.js";

const credentialSchema = z.object({
  key: z.string().min(1).max(1024),
  /** `login`: from `keyward auth login` (an OAuth key bound to <server>/mcp); `set-token`: pasted. */
  via: z.enum(["login", "set-token"]),
  /** The OAuth client `auth login` registered (it revokes the key at logout). */
  clientId: z.string().max(200).optional(),
  /** RFC 7592: lets the next `auth login` find that client again and reuse it (one Connected apps row, not one per login). */
  registrationAccessToken: z.string().max(1024).optional(),
  email: z.string().max(320).optional(),
  keyId: z.string().max(100).optional(),
  savedAt: z.string().max(40),
});

const fileSchema = z.object({
  version: z.literal(1),
  /** The server used when a command names none. */
  default: z.string().optional(),
  servers: z.record(z.string(), credentialSchema),
});

export type StoredCredential = z.infer<typeof credentialSchema>;
export type CredentialsFile = z.infer<typeof fileSchema>;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), ".config");
  return path.join(base, "keyward");
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), "credentials.json");
}

export function readCredentials(file = credentialsPath()): CredentialsFile {
  if (!existsSync(file)) return { version: 1, servers: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new CliError(`${file} is not valid JSON: fix it or delete it and log in again`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw new CliError(`${file} is not a Keyward credentials file: fix it or delete it and log in again`);
  return parsed.data;
}

export function writeCredentials(data: CredentialsFile, file = credentialsPath()): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const temp = path.join(dir, `.credentials.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

export function saveCredential(server: string, credential: StoredCredential, file = credentialsPath()): void {
  const data = readCredentials(file);
  data.servers[server] = credential;
  data.default = server;
  writeCredentials(data, file);
}

/** True when something was removed. */
export function forgetCredential(server: string, file = credentialsPath()): boolean {
  const data = readCredentials(file);
  if (!data.servers[server]) return false;
  delete data.servers[server];
  if (data.default === server) {
    const rest = Object.keys(data.servers);
    data.default = rest.length === 1 ? rest[0] : undefined;
  }
  writeCredentials(data, file);
  return true;
}
