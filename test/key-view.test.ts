// isoTime: the per-millisecond last-used time of a verified key's view, formatted without snprintf.
import { describe, expect, it } from "vitest";
import { isoTime } from "../src/keys/view.js";

describe("isoTime", () => {
  it("is exactly Date#toISOString, across milliseconds, seconds, days and years, in any order", () => {
    const starts = [Date.UTC(2026, 11, 2, 6, 10, 58, 990), Date.UTC(1999, 11, 31, 23, 59, 59, 0), Date.UTC(2024, 1, 29, 12, 0, 0, 0), 0, -1500, Date.UTC(9999, 11, 31, 23, 59, 59, 995)];
    const checked: number[] = [];
    for (const start of starts) for (let ms = start; ms < start + 1_250; ms++) checked.push(ms);
    // Forwards (the hot path: one second's head reused), then backwards and shuffled (the head must follow).
    const orders = [checked, [...checked].reverse(), checked.map((ms, i) => checked[(i * 7919) % checked.length]!)];
    for (const order of orders) for (const ms of order) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("formats years outside 0000–9999 as Date does (six digits and a sign)", () => {
    for (const ms of [Date.UTC(10000, 0, 1, 0, 0, 0, 7), Date.UTC(-1, 5, 1, 0, 0, 0, 42), Date.UTC(2026, 0, 1)]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      expect(isoTime(ms + 1)).toBe(new Date(ms + 1).toISOString());
    }
  });
});
