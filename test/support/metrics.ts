// Reading /metrics in tests: scrape with the token, then pick one sample by name and labels.
import request from "supertest";
import type { Reachable } from "./server.js";

export async function scrape(server: Reachable, token: string): Promise<string> {
  const res = await request(server.url).get("/metrics").set("Authorization", `Bearer ${token}`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text;
}

/** The value of the sample `name` whose labels include `labels` (0 when there is none, as Prometheus would read an absent counter). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}
