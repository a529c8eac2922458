// The foundation SDK ships no InfluxDB query builder; this is the small one the dashboards need,
// with the few pieces of Flux every query shares, so that each query reads as a pipeline.
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type * as common from "@grafana/grafana-foundation-sdk/common";

export interface FluxQuery extends cog.Dataquery {
  refId: string;
  query: string;
  datasource?: common.DataSourceRef;
}

export class FluxQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: FluxQuery;

  constructor(refId: string, query: string) {
    this.internal = { refId, query, _implementsDataqueryVariant() {} };
  }

  datasource(ref: common.DataSourceRef): this {
    this.internal.datasource = ref;
    return this;
  }

  build(): FluxQuery {
    return this.internal;
  }
}

/** Identifiers are validated (A-Z a-z 0-9 _ . -) before they reach here; quoting still escapes. */
export function fluxString(value: string): string {
  return JSON.stringify(value);
}

/**
 * The dashboard's (or alert rule's) time range. Grafana replaces these names in the query text;
 * every query starts with it, so no query reads beyond what the user is looking at.
 */
export const RANGE = "range(start: v.timeRangeStart, stop: v.timeRangeStop)";

/** Downsampling to the panel's resolution: Grafana sets v.windowPeriod from the range and the panel width. */
export function perWindow(fn: string, createEmpty = false): string {
  return `aggregateWindow(every: v.windowPeriod, fn: ${fn}, createEmpty: ${createEmpty})`;
}

/**
 * The first of two aggregations per panel interval (per series, then across series): each window's
 * row stamped with the window's start, so that the second perWindow puts it into the same window
 * (stamped with the stop, as every panel's points are). Stamped with its stop, a window's row would
 * fall into the next window.
 */
export function perWindowAtStart(fn: string): string {
  return `aggregateWindow(every: v.windowPeriod, fn: ${fn}, timeSrc: "_start", createEmpty: false)`;
}

/** `r.column == "value"` */
export function equals(column: string, value: string): string {
  return `r.${column} == ${fluxString(value)}`;
}

/** `(r._field == "a" or r._field == "b")`: explicit names, so that every field a query reads can be checked. */
export function fieldIn(fields: readonly string[]): string {
  const tests = fields.map((f) => equals("_field", f));
  return tests.length === 1 ? tests[0] : `(${tests.join(" or ")})`;
}

/**
 * A tag matched against a dashboard variable. `:regex` makes Grafana escape the selected values
 * and join several as (a|b); "All" is the variable's custom all value `.*`, which Grafana inserts
 * unescaped. The same text works for a single-value variable.
 */
export function matchesVariable(tag: string, variable: string): string {
  return `r.${tag} =~ /^\${${variable}:regex}$/`;
}

export function filter(predicates: readonly string[]): string {
  return `filter(fn: (r) => ${predicates.join(" and ")})`;
}

export function keep(columns: readonly string[]): string {
  return `keep(columns: [${columns.map(fluxString).join(", ")}])`;
}

/** A Flux duration literal in milliseconds (exact for any interval the settings allow). */
export function durationMs(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`a duration must be a whole number of milliseconds, not ${ms}`);
  return `${ms}ms`;
}

/**
 * A Flux program: imports, then an optional preamble of statements, then one pipeline whose
 * steps are piped in order.
 */
export function flux(parts: { imports?: readonly string[]; preamble?: readonly string[]; source: string; steps: readonly string[] }): string {
  const lines: string[] = [];
  for (const name of parts.imports ?? []) lines.push(`import ${fluxString(name)}`);
  if (lines.length > 0) lines.push("");
  lines.push(...(parts.preamble ?? []));
  lines.push(parts.source, ...parts.steps.map((step) => `  |> ${step}`));
  return lines.join("\n");
}
