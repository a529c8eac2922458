import { Fleet } from "../src/fleet";
import { parseDuration } from "../src/duration";
import { READING_FIELDS, type FieldEncoding, type ReadingField } from "../src/schema";
import { DROPOUT_READINGS, STUCK_READINGS } from "../src/signal-model";
import { parseLine } from "./support/line-protocol";

const faults = { spikeRate: 0.001, stuckRate: 0.0005, dropoutRate: 0.0005 };
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1);

function linesFor(seed: number, from: number, to: number, devices = 20, intervalMs = 60_000, f = faults): string[] {
  const fleet = new Fleet({ devices, intervalMs, seed, site: "s", measurement: "environment", faults: f });
  fleet.seek(from);
  const chunk = fleet.take(to, Number.MAX_SAFE_INTEGER, true);
  return chunk ? chunk.text.split("\n") : [];
}

describe("signal model", () => {
  test("the same seed gives the same data, another seed other data", () => {
    const a = linesFor(42, T0, T0 + 6 * HOUR);
    const b = linesFor(42, T0, T0 + 6 * HOUR);
    const c = linesFor(43, T0, T0 + 6 * HOUR);
    expect(a.length).toBeGreaterThan(6 * 60 * 20 * 0.95);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test("a reading depends only on device and time, not on how the fleet was swept", () => {
    const whole = linesFor(7, T0, T0 + HOUR);
    const fleet = new Fleet({ devices: 20, intervalMs: 60_000, seed: 7, site: "s", measurement: "environment", faults });
    fleet.seek(T0);
    const pieces: string[] = [];
    for (let chunk; (chunk = fleet.take(T0 + HOUR, 7, true)); ) {
      expect(chunk.lines).toBeLessThanOrEqual(7);
      expect(chunk.text.split("\n")).toHaveLength(chunk.lines);
      pieces.push(...chunk.text.split("\n"));
    }
    expect(pieces).toEqual(whole);
  });

  test("readings are spread over the interval and in time order", () => {
    const lines = linesFor(1, T0, T0 + 10 * 60_000, 10, 60_000, { spikeRate: 0, stuckRate: 0, dropoutRate: 0 });
    const times = lines.map((l) => parseLine(l).timestamp);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(new Set(times.slice(0, 10)).size).toBe(10); // ten devices, ten distinct offsets
    expect(times[1] - times[0]).toBe(6000);
  });

  test("a daily cycle per device, humidity anti-correlated with temperature, battery draining", () => {
    const lines = linesFor(3, T0, T0 + 48 * HOUR, 1, 300_000, { spikeRate: 0, stuckRate: 0, dropoutRate: 0 }).map(parseLine);
    const temps = lines.map((p) => p.fields.temperature_c);
    const hums = lines.map((p) => p.fields.humidity_pct);
    expect(Math.max(...temps) - Math.min(...temps)).toBeGreaterThan(2.5);
    expect(correlation(temps, hums)).toBeLessThan(-0.8);
    // drains steadily (0.5-2.5 % a day); at most one battery swap (a jump up) in two days
    const battery = lines.map((p) => p.fields.battery_pct);
    const rises = battery.slice(1).filter((b, i) => b > battery[i]).length;
    expect(rises).toBeLessThanOrEqual(1);
    expect(rises === 0 ? battery[0] - battery[battery.length - 1] : 1).toBeGreaterThan(0.9);
  });

  test("faults appear at about the configured rates", () => {
    const intervalMs = 1000;
    const devices = 50;
    const span = HOUR / 2;
    const readings = (devices * span) / intervalMs;
    const noFaults = linesFor(5, T0, T0 + span, devices, intervalMs, { spikeRate: 0, stuckRate: 0, dropoutRate: 0 });
    expect(noFaults.length).toBe(readings);
    const dropouts = linesFor(5, T0, T0 + span, devices, intervalMs, { spikeRate: 0, stuckRate: 0, dropoutRate: 0.01 });
    const missing = readings - dropouts.length;
    const expectedMissing = readings * 0.01 * DROPOUT_READINGS;
    expect(missing).toBeGreaterThan(expectedMissing * 0.7);
    expect(missing).toBeLessThan(expectedMissing * 1.3);

    const spiky = linesFor(5, T0, T0 + span, devices, intervalMs, { spikeRate: 0.01, stuckRate: 0, dropoutRate: 0 }).map(parseLine);
    const calm = noFaults.map(parseLine);
    const spikes = spiky.filter((p, i) => Math.abs(p.fields.temperature_c - calm[i].fields.temperature_c) > 5).length;
    expect(spikes).toBeGreaterThan(readings * 0.01 * 0.7);
    expect(spikes).toBeLessThan(readings * 0.01 * 1.3);

    const stuck = linesFor(5, T0, T0 + span, devices, intervalMs, { spikeRate: 0, stuckRate: 0.002, dropoutRate: 0 }).map(parseLine);
    // a stuck sensor repeats its whole reading; count repeats beyond those rounding produces anyway
    const repeats = countRepeats(stuck) - countRepeats(calm);
    const expectedRepeats = readings * 0.002 * (STUCK_READINGS - 1);
    expect(repeats).toBeGreaterThan(expectedRepeats * 0.6);
    expect(repeats).toBeLessThan(expectedRepeats * 1.4);
  });

  test("the fast encoder writes what toFixed would, line by line", () => {
    const fleet = new Fleet({ devices: 50, intervalMs: 1000, seed: 11, site: "s", measurement: "environment", faults });
    for (let d = 0; d < 50; d++) {
      for (let t = T0; t < T0 + 60_000; t += 1000) {
        const line = fleet.line(d, t);
        const r = fleet.model.reading(d, t);
        if (!r) {
          expect(line).toBeUndefined();
          continue;
        }
        // Built from schema.ts, so that a field the encoder skips fails here too.
        const fields = (Object.keys(READING_FIELDS) as ReadingField[]).map((name) => {
          const encoding: FieldEncoding = READING_FIELDS[name];
          const text = encoding.type === "integer" ? `${r[name]}i` : r[name].toFixed(encoding.decimals).replace(/^-(0\.0+)$/, "$1");
          return `${name}=${text}`;
        });
        expect(line).toBe(`environment,device=dev-${String(d + 1).padStart(6, "0")},site=s ${fields.join(",")} ${t}`);
      }
    }
  });

  test("durations", () => {
    expect(parseDuration("24h")).toBe(24 * HOUR);
    expect(parseDuration("1h30m")).toBe(1.5 * HOUR);
    expect(parseDuration("7d")).toBe(7 * 24 * HOUR);
    expect(parseDuration("500ms")).toBe(500);
    for (const bad of ["", "h", "24", "1.5h", "24 h", "-1h", "1y"]) expect(parseDuration(bad)).toBeUndefined();
  });
});

function countRepeats(points: ReturnType<typeof parseLine>[]): number {
  let repeats = 0;
  const previous = new Map<string, string>();
  for (const p of points) {
    const values = JSON.stringify(p.fields);
    if (previous.get(p.tags.device) === values) repeats++;
    previous.set(p.tags.device, values);
  }
  return repeats;
}

function correlation(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe("records handed to the client", () => {
  const { recordLinesFor } = require("../src/writer");
  test("about half a flush interval of traffic, from 1 to 100 lines", () => {
    expect(recordLinesFor({ devices: 5, intervalMs: 5000, flushIntervalMs: 1000 })).toBe(1);
    expect(recordLinesFor({ devices: 500, intervalMs: 1000, flushIntervalMs: 1000 })).toBe(100);
    expect(recordLinesFor({ devices: 100, intervalMs: 1000, flushIntervalMs: 1000 })).toBe(50);
    expect(recordLinesFor({ devices: 100_000, intervalMs: 1000, flushIntervalMs: 1000 })).toBe(100);
  });
});

test("take hands over full chunks only, unless asked to flush the pending lines", () => {
  const fleet = new Fleet({ devices: 10, intervalMs: 1000, seed: 1, site: "s", measurement: "m", faults: { spikeRate: 0, stuckRate: 0, dropoutRate: 0 } });
  fleet.seek(T0);
  expect(fleet.take(T0 + 1000, 100)).toBeUndefined(); // 10 lines pending
  expect(fleet.pendingLines).toBe(10);
  expect(fleet.take(T0 + 10_000, 100)).toEqual({ lines: 100, text: expect.any(String) });
  expect(fleet.pendingLines).toBe(0);
  expect(fleet.take(T0 + 10_500, 100)).toBeUndefined();
  expect(fleet.take(Number.NEGATIVE_INFINITY, 100, true)?.lines).toBe(5);
  expect(fleet.pendingLines).toBe(0);
});
