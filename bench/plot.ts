// bench/plot.png: requests/s and p99 against the number of keys, per backend, drawn as plain SVG
// and turned into a PNG by headless Chromium through playwright-core (no new dependency).
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";
import type { BackendResults } from "./report.js";

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  points: { x: number; y: number }[];
}

const W = 1000;
const H = 470;
const COLORS: Record<string, string> = {
  sqlite: "#1f77b4",
  postgresql: "#d62728",
  "postgresql ×2": "#9467bd",
  "sqlite cache off": "#17becf",
  "postgresql cache off": "#ff7f0e",
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(x0: number, title: string, yLabel: string, series: Series[], xs: number[]): string {
  const w = W / 2 - 110;
  const h = H - 170;
  const top = 50;
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p.y))) * 1.1);
  const lx = xs.map((x) => Math.log10(x));
  const [minX, maxX] = [Math.min(...lx), Math.max(...lx)];
  const px = (x: number) => x0 + (maxX === minX ? w / 2 : ((Math.log10(x) - minX) / (maxX - minX)) * (w - 40) + 20);
  const py = (y: number) => top + h - (y / yMax) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="30" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 5; i++) {
    const y = (yMax / 5) * i;
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(
      `<text x="${x0 - 6}" y="${py(y) + 4}" text-anchor="end" font-size="11">${yMax >= 10 ? Math.round(y).toLocaleString("en-US") : y.toFixed(2)}</text>`,
    );
  }
  for (const x of xs)
    out.push(`<text x="${px(x)}" y="${top + h + 18}" text-anchor="middle" font-size="11">${x.toLocaleString("en-US")}</text>`);
  out.push(`<text x="${x0 + w / 2}" y="${top + h + 38}" text-anchor="middle" font-size="12">keys in the table (log scale)</text>`);
  out.push(`<text transform="translate(${x0 - 52} ${top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  for (const s of series) {
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    for (const p of s.points) out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="4" fill="${s.color}"/>`);
  }
  return out.join("\n");
}

export function plotSvg(results: BackendResults[]): string {
  const xs = [...new Set(results.flatMap((b) => b.scale.map((p) => p.keys)))].sort((a, b) => a - b);
  const rps: Series[] = [];
  const p99: Series[] = [];
  for (const b of results) {
    const color = COLORS[b.backend] ?? "#333";
    rps.push({ name: `${b.backend} valid key`, color, dashed: false, points: b.scale.map((p) => ({ x: p.keys, y: p.key.rps })) });
    rps.push({ name: `${b.backend} open (baseline)`, color, dashed: true, points: b.scale.map((p) => ({ x: p.keys, y: p.open.rps })) });
    p99.push({ name: `${b.backend} valid key`, color, dashed: false, points: b.scale.map((p) => ({ x: p.keys, y: p.key.p99 })) });
    p99.push({ name: `${b.backend} open (baseline)`, color, dashed: true, points: b.scale.map((p) => ({ x: p.keys, y: p.open.p99 })) });
    const off = b.scale.filter((p) => p.uncached);
    if (off.length) {
      const c0 = COLORS[`${b.backend} cache off`] ?? "#999";
      rps.push({
        name: `${b.backend} valid key, cache off`,
        color: c0,
        dashed: false,
        points: off.map((p) => ({ x: p.keys, y: p.uncached!.rps })),
      });
      p99.push({
        name: `${b.backend} valid key, cache off`,
        color: c0,
        dashed: false,
        points: off.map((p) => ({ x: p.keys, y: p.uncached!.p99 })),
      });
    }
    const two = b.scale.filter((p) => p.twoKey);
    if (two.length) {
      const c2 = COLORS[`${b.backend} ×2`] ?? "#666";
      rps.push({
        name: `${b.backend} ×2 instances, valid key`,
        color: c2,
        dashed: false,
        points: two.map((p) => ({ x: p.keys, y: p.twoKey!.rps })),
      });
      p99.push({
        name: `${b.backend} ×2 instances, valid key`,
        color: c2,
        dashed: false,
        points: two.map((p) => ({ x: p.keys, y: p.twoKey!.p99 })),
      });
    }
  }
  const legend = rps
    .map((s, i) => {
      const x = 40 + (i % 3) * 320;
      const y = H - 56 + Math.floor(i / 3) * 18;
      return `<line x1="${x}" x2="${x + 30}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/><text x="${x + 36}" y="${y}" font-size="12">${esc(s.name)}</text>`;
    })
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(80, "Requests per second", "req/s", rps, xs)}
${panel(W / 2 + 80, "p99 latency", "ms", p99, xs)}
${legend}
</svg>`;
}

/** Writes the SVG next to the PNG and screenshots it; returns an error message instead of throwing. */
export async function writePlot(
  results: BackendResults[],
  pngFile: string,
  chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
): Promise<string | null> {
  const svg = plotSvg(results);
  writeFileSync(pngFile.replace(/\.png$/, ".svg"), svg);
  try {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: W, height: H } });
      await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
      await page.screenshot({ path: pngFile, clip: { x: 0, y: 0, width: W, height: H } });
    } finally {
      await browser.close();
    }
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
