// Every Flux query of the dashboards and alert rules, as pure functions of the options. Each one
// starts from the bucket, is bounded by the dashboard's (or the rule's) time range, and names the
// measurement, fields and tags it reads from simulator/src/schema.ts.
import { METRICS_MEASUREMENT, READING_FIELDS, type MetricsField, type ReadingField } from "../simulator/src/schema";
import { equals, fieldIn, filter, flux, fluxString, keep, matchesVariable, perWindow, perWindowAtStart, RANGE, durationMs } from "./flux-query";
import { type DashboardOptions, silentMs } from "./options";

/**
 * Which dashboard variables narrow a query: the name of the variable for the site tag and for the
 * device tag. Alert rules use none (they watch the whole fleet).
 */
export interface Selection {
  site?: string;
  device?: string;
}

export const FLEET: Selection = { site: "site", device: "device" };
export const NONE: Selection = {};

/**
 * Columns a query computes itself (they are not in the simulator's schema); tests allow exactly
 * these besides the schema's fields and tags and Flux's own columns.
 */
export const COMPUTED_COLUMNS = ["elapsed", "last_seen", "silent_for", "n", "total", "min", "mean", "max", "stat", "out_of_range", "rank"] as const;

/** Any one field stands for the whole reading: every line carries all five with one timestamp. */
const PRESENCE_FIELD: ReadingField = "battery_pct";

function selection(s: Selection): string[] {
  const predicates: string[] = [];
  if (s.site) predicates.push(matchesVariable("site", s.site));
  if (s.device) predicates.push(matchesVariable("device", s.device));
  return predicates;
}

/** The source of every readings query: bucket, range, measurement, fields, variables. */
function readings(o: DashboardOptions, fields: readonly ReadingField[], s: Selection): { source: string; steps: string[] } {
  const predicates = [equals("_measurement", o.measurement)];
  if (fields.length > 0) predicates.push(fieldIn(fields));
  return { source: `from(bucket: ${fluxString(o.bucket)})`, steps: [RANGE, filter([...predicates, ...selection(s)])] };
}

function metrics(o: DashboardOptions, fields: readonly MetricsField[], s: Selection): { source: string; steps: string[] } {
  const predicates = [equals("_measurement", METRICS_MEASUREMENT), fieldIn(fields)];
  if (s.site) predicates.push(matchesVariable("site", s.site));
  return { source: `from(bucket: ${fluxString(o.bucket)})`, steps: [RANGE, filter(predicates)] };
}

/** Nanoseconds from `time` to the end of the range, as seconds. */
const SECONDS_BEFORE_STOP = (time: string) => `float(v: int(v: v.timeRangeStop) - int(v: ${time})) / 1000000000.0`;

// --- readings ---------------------------------------------------------------------------------

/**
 * One field across the selected devices over time: per panel interval, the fleet's mean and the
 * lowest and highest device (each device's mean in the interval, computed in storage: one row per
 * device and interval reaches Flux, never the raw points). Three series, whatever the fleet's size;
 * the lowest and highest rows keep the device they come from (a string column, which a time
 * series does not draw but Inspect › Data and a table view show), so an outlier is named. Across
 * devices the rows are merged into one table and windowed again: grouping by _time instead (one
 * table per window) was ten times slower (docs/PERFORMANCE.md).
 */
export function fleetSpread(o: DashboardOptions, field: ReadingField, s: Selection = FLEET): string {
  const r = readings(o, [field], s);
  const branch = (fn: string, stat: string) => `perDevice |> ${perWindow(fn)} |> set(key: "stat", value: ${fluxString(stat)})`;
  return flux({
    preamble: [`perDevice = ${r.source}`, ...[...r.steps, perWindowAtStart("mean"), "group()"].map((step) => `  |> ${step}`), ""],
    source: `union(tables: [${branch("min", "lowest device")}, ${branch("mean", "fleet mean")}, ${branch("max", "highest device")}])`,
    // mean drops the device column, min and max keep the row they select
    steps: ['group(columns: ["stat"])', keep(["_time", "_value", "stat", "device"])],
  });
}

/** Min, mean and max of one field per panel interval: a spike shows in max or min, a stuck sensor as min = max. */
export function fieldEnvelope(o: DashboardOptions, field: ReadingField, s: Selection): string {
  const r = readings(o, [field], s);
  const branch = (fn: string) => `data |> ${perWindow(fn)} |> set(key: "stat", value: ${fluxString(fn)})`;
  return flux({
    // one type for all three (min and max of an integer field stay integers, the mean does not),
    // since union refuses a column of two types
    preamble: [`data = ${r.source}`, ...[...r.steps, "toFloat()"].map((step) => `  |> ${step}`), ""],
    source: `union(tables: [${["min", "mean", "max"].map(branch).join(", ")}])`,
    steps: ['group(columns: ["stat"])', keep(["_time", "_value", "stat"])],
  });
}

/** Minimum, mean and maximum of one field over the whole range, as one row. */
export function fieldSummary(o: DashboardOptions, field: ReadingField, s: Selection): string {
  const r = readings(o, [field], s);
  return flux({
    imports: ["math"],
    source: r.source,
    steps: [
      ...r.steps,
      [
        "reduce(",
        "      identity: {n: 0.0, total: 0.0, min: math.mInf(sign: 1), max: math.mInf(sign: -1)},",
        "      fn: (r, accumulator) => ({",
        "          n: accumulator.n + 1.0,",
        "          total: accumulator.total + float(v: r._value),",
        "          min: if float(v: r._value) < accumulator.min then float(v: r._value) else accumulator.min,",
        "          max: if float(v: r._value) > accumulator.max then float(v: r._value) else accumulator.max,",
        "      }),",
        "  )",
      ].join("\n"),
      "map(fn: (r) => ({min: r.min, mean: r.total / r.n, max: r.max}))",
      keep(["min", "mean", "max"]),
    ],
  });
}

/** Each device's last point in the range, with its age at the end of the range in seconds as _value. */
function lastPointAge(o: DashboardOptions, s: Selection): { source: string; steps: string[] } {
  const r = readings(o, [PRESENCE_FIELD], s);
  return {
    source: r.source,
    steps: [...r.steps, "last()", `map(fn: (r) => ({r with _value: ${SECONDS_BEFORE_STOP("r._time")}}))`],
  };
}

/** Seconds from each device's last point to the end of the range (data freshness), stalest first, at most DEVICE_TABLE_ROWS devices. */
export function freshnessPerDevice(o: DashboardOptions, s: Selection = FLEET): string {
  const r = lastPointAge(o, s);
  return flux({
    source: r.source,
    steps: [
      ...r.steps,
      'rename(columns: {_time: "last_seen", _value: "silent_for"})',
      "group()",
      keep(["device", "site", "last_seen", "silent_for"]),
      'sort(columns: ["silent_for"], desc: true)',
      `limit(n: ${DEVICE_TABLE_ROWS})`,
    ],
  });
}

/** The devices whose last point in the range is older than the silent window, by name, longest silent first, at most DEVICE_TABLE_ROWS. */
export function silentDevices(o: DashboardOptions, s: Selection = FLEET): string {
  const r = lastPointAge(o, s);
  return flux({
    source: r.source,
    steps: [
      ...r.steps,
      `filter(fn: (r) => r._value > ${(silentMs(o) / 1000).toFixed(3)})`,
      'rename(columns: {_time: "last_seen", _value: "silent_for"})',
      "group()",
      keep(["device", "site", "last_seen", "silent_for"]),
      'sort(columns: ["silent_for"], desc: true)',
      `limit(n: ${DEVICE_TABLE_ROWS})`,
    ],
  });
}

/**
 * Per device, seconds since its last point, as a time series for alerting: one series per device
 * (labels device and site), stamped with the time of that point.
 */
export function secondsSinceLastPoint(o: DashboardOptions, s: Selection = NONE): string {
  const r = lastPointAge(o, s);
  return flux({ source: r.source, steps: [...r.steps, keep(["_time", "_value", "device", "site"])] });
}

/** How many devices sent a point within the silent window before the end of the range. */
export function devicesReporting(o: DashboardOptions, s: Selection = FLEET): string {
  const r = readings(o, [PRESENCE_FIELD], s);
  return flux({
    imports: ["date"],
    source: r.source,
    steps: [
      ...r.steps,
      "last()",
      `filter(fn: (r) => r._time >= date.sub(d: ${durationMs(silentMs(o))}, from: v.timeRangeStop))`,
      "group()",
      "count()",
      // a time column makes it a series, which the alert rule's reduce step expects
      "map(fn: (r) => ({_time: v.timeRangeStop, _value: r._value}))",
    ],
  });
}

/**
 * At most this many rows in a per-device table: a fleet's worst devices first, so that a table of a
 * large fleet stays one a browser draws and a person reads (a fleet view aggregates; a table names).
 */
export const DEVICE_TABLE_ROWS = 500;

/** Fields outside their configured ranges (the alert thresholds) in a pivoted row, as an integer. */
function outOfRangeCount(o: DashboardOptions, fields: readonly ReadingField[]): string {
  const tests: string[] = [];
  for (const field of fields) {
    if (field === "temperature_c" || field === "humidity_pct") {
      const { min, max } = o.ranges[field];
      tests.push(`(if exists r.${field} and (r.${field} < ${min.toFixed(1)} or r.${field} > ${max.toFixed(1)}) then 1 else 0)`);
    } else if (field === "battery_pct") {
      tests.push(`(if exists r.${field} and r.${field} < ${o.batteryMinPct.toFixed(1)} then 1 else 0)`);
    }
  }
  return tests.length > 0 ? tests.join(" + ") : "0";
}

/**
 * Each selected device's last value of every field, one row per device: the devices with the most
 * fields outside their configured ranges first, then by name, at most DEVICE_TABLE_ROWS.
 */
export function latestReadings(o: DashboardOptions, fields: readonly ReadingField[], s: Selection = FLEET): string {
  const integers = fields.filter((f) => READING_FIELDS[f].type === "integer");
  const floats = fields.filter((f) => READING_FIELDS[f].type !== "integer");
  const lastOf = (some: readonly ReadingField[]) => {
    const r = readings(o, some, s);
    return [r.source, ...r.steps, "last()", 'drop(columns: ["_start", "_stop", "_measurement"])'];
  };
  const pipe = (steps: string[]) => `${steps[0]}\n${steps.slice(1).map((step) => `  |> ${step}`).join("\n")}`;
  if (floats.length === 0 || integers.length === 0) throw new Error("latestReadings: the table shows float and integer fields (rssi_dbm) alike");
  return flux({
    // pivot needs one type: only the integer fields' few rows are converted (toFloat on every row costs as much as reading them)
    preamble: [`floats = ${pipe(lastOf(floats))}`, `integers = ${pipe([...lastOf(integers), "toFloat()"])}`, ""],
    source: "union(tables: [floats, integers])",
    steps: [
      "group()",
      'pivot(rowKey: ["device", "site", "_time"], columnKey: ["_field"], valueColumn: "_value")',
      // rank: most fields out of range first, then by name (sort has one direction for all its columns)
      `map(fn: (r) => {\n      n = ${outOfRangeCount(o, fields)}\n      return {r with out_of_range: n, rank: -n}\n  })`,
      'sort(columns: ["rank", "device"])',
      `limit(n: ${DEVICE_TABLE_ROWS})`,
      'rename(columns: {_time: "last_seen"})',
      keep(["device", "site", "last_seen", "out_of_range", ...fields]),
    ],
  });
}

/** Each device's last value of one field, as one series per device, for alerting. */
export function latestValue(o: DashboardOptions, field: ReadingField, s: Selection = NONE): string {
  const r = readings(o, [field], s);
  return flux({ source: r.source, steps: [...r.steps, "last()", keep(["_time", "_value", "device", "site"])] });
}

/**
 * Readings arriving per minute over time, for the selection: counted per series and window (which
 * InfluxDB computes in storage), summed over the fleet per window, scaled from the window to a
 * minute. aggregateWindow takes its input in any order, so the merged counts need no sort.
 */
export function ingestRate(o: DashboardOptions, s: Selection = FLEET): string {
  const r = readings(o, [PRESENCE_FIELD], s);
  return flux({
    source: r.source,
    steps: [
      ...r.steps,
      perWindowAtStart("count"),
      "group()",
      perWindow("sum"),
      "map(fn: (r) => ({_time: r._time, _value: float(v: r._value) * 60000000000.0 / float(v: int(v: v.windowPeriod))}))",
    ],
  });
}

// --- fault episodes (simulator/src/signal-model.ts) --------------------------------------------

/** Longest gap between two readings per panel interval, in seconds: a dropout is a gap of several intervals. */
export function longestGap(o: DashboardOptions, s: Selection): string {
  const r = readings(o, [PRESENCE_FIELD], s);
  return flux({
    source: r.source,
    steps: [...r.steps, "elapsed(unit: 1ms)", "map(fn: (r) => ({r with _value: float(v: r.elapsed) / 1000.0}))", perWindow("max"), keep(["_time", "_value"])],
  });
}

/** How many gaps in the range were longer than `gapMs`. */
export function gapsLongerThan(o: DashboardOptions, gapMs: number, s: Selection): string {
  const r = readings(o, [PRESENCE_FIELD], s);
  return flux({ source: r.source, steps: [...r.steps, "elapsed(unit: 1ms)", `filter(fn: (r) => r.elapsed > ${gapMs})`, "count()", keep(["_value"])] });
}

/**
 * Readings equal to the one before, per panel interval. Readings carry noise, so two in a row
 * are never equal unless the sensor is stuck (it repeats the reading it had when the episode began).
 */
export function repeatedReadings(o: DashboardOptions, field: ReadingField, s: Selection): string {
  const r = readings(o, [field], s);
  return flux({
    source: r.source,
    steps: [...r.steps, "difference()", "map(fn: (r) => ({r with _value: if r._value == 0.0 then 1 else 0}))", perWindow("sum"), keep(["_time", "_value"])],
  });
}

/** Readings in the range equal to the one before (see repeatedReadings). */
export function repeatedReadingsTotal(o: DashboardOptions, field: ReadingField, s: Selection): string {
  const r = readings(o, [field], s);
  return flux({ source: r.source, steps: [...r.steps, "difference()", "filter(fn: (r) => r._value == 0.0)", "count()", keep(["_value"])] });
}

/** Largest change between two readings per panel interval: a spike is a jump out and back. */
export function largestJump(o: DashboardOptions, field: ReadingField, s: Selection): string {
  const r = readings(o, [field], s);
  return flux({
    imports: ["math"],
    source: r.source,
    steps: [...r.steps, "difference()", "map(fn: (r) => ({r with _value: math.abs(x: r._value)}))", perWindow("max"), keep(["_time", "_value"])],
  });
}

/** Changes between two readings in the range larger than `jump`. */
export function jumpsLargerThan(o: DashboardOptions, field: ReadingField, jump: number, s: Selection): string {
  const r = readings(o, [field], s);
  return flux({
    imports: ["math"],
    source: r.source,
    steps: [...r.steps, "difference()", `filter(fn: (r) => math.abs(x: r._value) > ${jump.toFixed(1)})`, "count()", keep(["_value"])],
  });
}

// --- the simulator's own counters ---------------------------------------------------------------

/**
 * Counters as rates per minute: between consecutive metrics lines (a restart's reset gives no
 * rate rather than a negative one), averaged per panel interval. Differentiating the raw lines
 * rather than per-window values gives a rate as soon as two lines exist, even when both fall
 * into one panel interval; metrics lines are few (one per SIM_METRICS_INTERVAL_MS), so it is cheap.
 */
export function counterRates(o: DashboardOptions, fields: readonly MetricsField[], s: Selection = FLEET): string {
  const r = metrics(o, fields, s);
  return flux({
    source: r.source,
    steps: [...r.steps, "derivative(unit: 1m, nonNegative: true)", perWindow("mean"), keep(["_time", "_value", "_field"])],
  });
}

/** How much a counter grew over the range, per simulator (site), counter resets skipped. */
export function counterIncrease(o: DashboardOptions, field: MetricsField, s: Selection = FLEET): string {
  const r = metrics(o, [field], s);
  return flux({ source: r.source, steps: [...r.steps, "increase()", "last()", keep(["_time", "_value", "site"])] });
}

/** The latest value of each counter, one column per counter. */
export function latestCounters(o: DashboardOptions, fields: readonly MetricsField[], s: Selection = FLEET): string {
  const r = metrics(o, fields, s);
  return flux({
    source: r.source,
    steps: [...r.steps, "last()", 'group(columns: ["site"])', 'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")', keep(["site", ...fields])],
  });
}

/** The retry buffer's fill over time, in percent of its capacity. */
export function bufferFill(o: DashboardOptions, s: Selection = FLEET): string {
  const r = metrics(o, ["buffer_lines", "buffer_capacity_lines"], s);
  return flux({
    source: r.source,
    steps: [
      ...r.steps,
      perWindow("max"),
      'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
      "map(fn: (r) => ({_time: r._time, site: r.site, _value: 100.0 * float(v: r.buffer_lines) / float(v: r.buffer_capacity_lines)}))",
    ],
  });
}

// --- variables ------------------------------------------------------------------------------------

/** The values of one tag among the readings in the range (a dashboard variable's options). */
export function tagValues(o: DashboardOptions, tag: "site" | "device", s: Selection): string {
  const r = readings(o, [PRESENCE_FIELD], s);
  // keep |> group |> distinct straight after the filter is the shape InfluxDB answers from its
  // series index (ReadTagValues) instead of reading each series' last point: 1.4 s at 10,000
  // devices that way (docs/PERFORMANCE.md)
  return flux({ source: r.source, steps: [...r.steps, keep([tag]), "group()", `distinct(column: ${fluxString(tag)})`, "sort()"] });
}
