// What the simulator writes to InfluxDB: the one description of both measurements.
//
// The simulator builds its lines from these names, and the dashboards and alert rules of the
// Pulumi program (dashboards/) import this file by relative path, so a field that is renamed here
// is renamed everywhere or fails to compile; nothing is retyped. It imports nothing and declares
// only constants and types, so that it compiles under the simulator's tsconfig (and into its image)
// and under the root one (which otherwise excludes simulator/).

/** Measurement of the readings unless SIM_MEASUREMENT says otherwise. */
export const DEFAULT_MEASUREMENT = "environment";

/**
 * Tags of every reading: the device name (dev-000001 …) and the site (SIM_SITE). Their values come
 * from the simulator's code, so a tag added here fails to compile in line-encoder.ts until it is
 * written there.
 */
export const READING_TAGS = ["device", "site"] as const;

/**
 * How a field is written: a float with 1 to 6 decimals (as x.toFixed(decimals), never "-0"), or an
 * integer (rounded, with line protocol's `i` suffix).
 */
export type FieldEncoding = { readonly type: "float"; readonly decimals: number } | { readonly type: "integer" };

/**
 * Fields of a reading, in the order the line encoder writes them. Every line carries all of them,
 * with an explicit millisecond timestamp. The line encoder is built from this object, so a field
 * added here is written without further code (the signal model must then produce it: its
 * `Reading` type is derived from these keys). A name must start with a letter and use only
 * A-Z a-z 0-9 _, so that line protocol and Flux take it unescaped; the encoder refuses any other
 * when it loads.
 */
export const READING_FIELDS = {
  temperature_c: { type: "float", decimals: 2, unit: "°C", description: "air temperature" },
  humidity_pct: { type: "float", decimals: 1, unit: "%", description: "relative humidity, 0–100" },
  pressure_hpa: { type: "float", decimals: 1, unit: "hPa", description: "air pressure" },
  battery_pct: { type: "float", decimals: 1, unit: "%", description: "battery charge, drains 0.5–2.5 %/day, swapped at 5 %" },
  rssi_dbm: { type: "integer", unit: "dBm", description: "radio signal strength" },
} as const satisfies Record<string, FieldEncoding & { readonly unit: string; readonly description: string }>;

export type ReadingField = keyof typeof READING_FIELDS;

/**
 * The simulator's own counters, written on the same write path (client, token, bucket) as the
 * readings, in a measurement of their own so that they never mix with readings. One line every
 * SIM_METRICS_INTERVAL_MS.
 */
export const METRICS_MEASUREMENT = "simulator";

/** Tags of every metrics line: the site (SIM_SITE), as on the readings. */
export const METRICS_TAGS = ["site"] as const;

/**
 * Fields of a metrics line, all integers. Counters count since the simulator started (they restart
 * from 0 with the process); gauges are the value at the time of the line. The points_* counters
 * count readings only: metrics lines are counted apart (metrics_*), so that
 * points_generated = points_written + points_dropped + points in flight stays exact.
 */
export const METRICS_FIELDS = {
  points_generated: { kind: "counter", unit: "points", description: "readings generated (including those skipped as too late)" },
  points_written: { kind: "counter", unit: "points", description: "readings InfluxDB confirmed" },
  points_dropped: { kind: "counter", unit: "points", description: "readings given up on, each logged with its reason" },
  write_retries: { kind: "counter", unit: "requests", description: "failed write requests that the client retries" },
  buffer_lines: { kind: "gauge", unit: "points", description: "readings handed to the client and not yet written or dropped" },
  buffer_capacity_lines: { kind: "gauge", unit: "points", description: "the cap on buffer_lines (SIM_MAX_INFLIGHT_LINES)" },
  metrics_written: { kind: "counter", unit: "lines", description: "earlier metrics lines InfluxDB confirmed" },
  metrics_dropped: { kind: "counter", unit: "lines", description: "earlier metrics lines given up on, each logged" },
} as const;

export type MetricsField = keyof typeof METRICS_FIELDS;
