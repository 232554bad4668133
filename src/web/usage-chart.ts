// A usage report (src/keys/usage/read.ts) as the geometry of a small server-rendered SVG bar chart,
// one bar a day (requests served, refusals stacked on top in another colour), with the words a
// screen reader and a text-only reader need: a title, a description and a one-line summary.
// views/usage-chart.ejs draws it; every text goes through ejs's escaping there.
import type { UsageReport, UsageTotals } from "../keys/index.js";

export interface UsageBar {
  date: string;
  x: number;
  /** The served part (bottom). */
  okY: number;
  okH: number;
  /** The refused part (401 + 403 + 429), stacked on top. */
  errY: number;
  errH: number;
  /** Shown on hover (an SVG <title>). */
  tip: string;
}

export interface UsageChart {
  /** Unique within the page: the prefix of the SVG's title and description ids. */
  id: string;
  width: number;
  height: number;
  barWidth: number;
  bars: UsageBar[];
  /** The tallest day's total: the top of the scale. */
  max: number;
  title: string;
  desc: string;
  summary: string;
  totals: UsageTotals;
  refused: number;
  /** The days with any request, newest first, for the table under the chart. */
  activeDays: (UsageTotals & { date: string })[];
}

const WIDTH = 600;
const HEIGHT = 120;
const GAP = 2;
const TOP = 14; // room for the scale's label

const refusedOf = (t: UsageTotals) => t.unauthorized + t.forbidden + t.limited;
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

export function usageChart(id: string, what: string, report: UsageReport): UsageChart {
  const { days, totals } = report;
  const max = Math.max(1, ...days.map((d) => d.requests + refusedOf(d)));
  const slot = WIDTH / days.length;
  const barWidth = Math.max(1, slot - GAP);
  const scale = (n: number) => (n / max) * (HEIGHT - TOP);
  const bars = days.map((d, i) => {
    const okH = scale(d.requests);
    const errH = scale(refusedOf(d));
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      date: d.date,
      x: round(i * slot + GAP / 2),
      okY: round(HEIGHT - okH),
      okH: round(okH),
      errY: round(HEIGHT - okH - errH),
      errH: round(errH),
      tip: `${d.date}: ${plural(d.requests, "request")}, ${plural(refusedOf(d), "refusal")}`,
    };
  });
  const refused = refusedOf(totals);
  const busiest = days.reduce((best, d) => (d.requests + refusedOf(d) > best.requests + refusedOf(best) ? d : best), days[0]!);
  const first = days[0]?.date ?? "";
  const last = days.at(-1)?.date ?? "";
  const summary =
    totals.requests + refused === 0
      ? `No requests in the last ${days.length} days.`
      : `Last ${days.length} days: ${plural(totals.requests, "request")} served, ${plural(refused, "refusal")} ` +
        `(401: ${totals.unauthorized}, 403: ${totals.forbidden}, 429: ${totals.limited}). ` +
        `Busiest day ${busiest.date} with ${plural(busiest.requests + refusedOf(busiest), "request")}.`;
  return {
    id,
    width: WIDTH,
    height: HEIGHT,
    barWidth: Math.round(barWidth * 10) / 10,
    bars,
    max,
    title: `Requests per day for ${what}`,
    desc: `Bar chart, one bar a day from ${first} to ${last} (UTC): requests served, with refusals (401, 403, 429) stacked on top. ${summary}`,
    summary,
    totals,
    refused,
    activeDays: days.filter((d) => d.requests + refusedOf(d) > 0).reverse(),
  };
}
