// deploy/grafana/keyward.json names only metrics /metrics exposes: every metric in every panel's
// expression is one the registry defines (a histogram's _bucket, _sum and _count included), and every
// metric Keyward defines has a panel. No server and no database: the registry alone.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createMetrics, METRIC_NAMES } from "../src/metrics/index.js";

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL("../deploy/grafana/keyward.json", import.meta.url), "utf8")) as {
  panels: Panel[];
  templating: { list: { query?: unknown }[] };
};

async function exposedNames(): Promise<Set<string>> {
  const text = await createMetrics().registry.metrics();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers followed by a selector, or Keyward's, process' and Node's by prefix. */
const namesIn = (expr: string) => [...expr.matchAll(/\b((?:keyward|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!);

describe("the Grafana dashboard", () => {
  it("names only metrics the registry exposes", async () => {
    const exposed = await exposedNames();
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of exprs) {
      const names = namesIn(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect([panel, name, exposed.has(name)]).toEqual([panel, name, true]);
    }
    for (const variable of dashboard.templating.list)
      for (const name of namesIn(JSON.stringify(variable.query ?? ""))) expect(exposed.has(name)).toBe(true);
  });

  it("has a panel for every metric Keyward defines", async () => {
    const exposed = await exposedNames();
    const used = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => namesIn(t.expr))));
    for (const name of METRIC_NAMES) {
      expect(exposed.has(name)).toBe(true);
      const forms = [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
      expect([name, forms.some((f) => used.has(f))]).toEqual([name, true]);
    }
  });

  it("the check can fail: a made-up name is not exposed", async () => {
    expect((await exposedNames()).has("keyward_made_up_total")).toBe(false);
  });
});
