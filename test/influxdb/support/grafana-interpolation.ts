// How Grafana turns a provisioned Flux query into the text InfluxDB receives: the ONE place in this
// tier that models it. Ported from Grafana's own code (read with the search tool's read_file on
// github.com/grafana/grafana and github.com/grafana/scenes; paths below), kept small and literal.
//
// Frontend (panel and variable queries; alert rules skip this step: they are evaluated on the
// backend, without dashboard variables):
//  - grafana/grafana public/app/plugins/datasource/influxdb/datasource.ts, applyTemplateVariables:
//    for Flux, `templateSrv.replace(query.query, scopedVars)` with no format (so the default, glob),
//    where $__interval and $__interval_ms are set to themselves "to interpolate on backend";
//  - same file, interpolateQueryExpr, and public/app/plugins/datasource/influxdb/variables.ts:
//    a variable's own query is interpolated with `templateSrv.replace(query, scopedVars,
//    datasource.interpolateQueryExpr)` (called without the query, so only multi-value variables
//    are regex-escaped), then run like a panel query;
//  - grafana/scenes packages/scenes/src/variables/constants.ts, VARIABLE_REGEX: $var, [[var]],
//    [[var:fmt]], ${var}, ${var.field}, ${var:fmt}; interpolation/sceneInterpolator.ts: an explicit
//    format in the expression wins over the caller's, unknown names are left as they are;
//    interpolation/formatRegistry.ts: the formats; variants/MultiValueVariable.ts: the All value is
//    every option's value, or the variable's custom allValue, which no format escapes
//    (CustomAllValue: only text, percentencode and queryparam change it);
//  - grafana/grafana packages/grafana-data/src/text/string.ts, escapeRegex;
//  - grafana/grafana packages/grafana-data/src/datetime/rangeutil.ts, calculateInterval and
//    roundInterval: a panel's interval is the range divided by its max data points, rounded, at
//    least the minimum interval.
// Backend (every query, alert rules included):
//  - grafana/grafana pkg/tsdb/influxdb/flux/macros.go, interpolate: first every `<word>.<word>`
//    whose second word is timeRangeStart, timeRangeStop (RFC3339Nano, UTC), windowPeriod (Go's
//    time.Duration String of the interval), bucket, defaultBucket or organization (quoted) is
//    replaced wherever it occurs, then $__interval_ms (milliseconds) and $__interval
//    (grafana-plugin-sdk-go backend/gtime FormatInterval);
//  - pkg/tsdb/influxdb/flux/query_models.go, getQueryModel: bucket, defaultBucket and
//    organization default to the datasource's; maxDataPoints defaults to 10000; an interval of 0
//    becomes 1 ms;
//  - pkg/tsdb/influxdb/flux/executor.go: a series with more than 10 × maxDataPoints points is an error;
//  - pkg/services/ngalert/models/alert_query.go: an alert query's intervalMs defaults to 1000 and
//    its maxDataPoints to 43200; its range is `relativeTimeRange` seconds before the evaluation.

// --- backend: Flux macros -------------------------------------------------------------------------

export interface FluxQueryContext {
  from: Date;
  to: Date;
  /** the request's interval; 0 becomes 1 ms as in getQueryModel */
  intervalMs: number;
  /** the datasource's jsonData.organization and defaultBucket (a query's own options win) */
  organization: string;
  defaultBucket: string;
  bucket?: string;
}

/** Go's time.Duration.String() for a whole number of milliseconds ("1m0s", "1.5s", "200ms"). */
export function goDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`not a whole, non-negative number of milliseconds: ${ms}`);
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000; // JavaScript prints 1.5 as "1.5" and 30 as "30", as Go does here
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Go's time.RFC3339Nano in UTC: trailing zeros of the fraction (and a bare dot) are dropped. */
export function goRfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.(\d*?)0*Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : "Z"));
}

/** grafana-plugin-sdk-go backend/gtime FormatInterval: the largest unit only. */
export function formatInterval(ms: number): string {
  const units: Array<[number, string]> = [
    [365 * 86_400_000, "y"],
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
    [1, "ms"],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return "1ms";
}

const FLUX_VARIABLE = /([a-zA-Z]+)\.([a-zA-Z]+)/gm;

/** macros.go `interpolate`: the Flux-specific variables, then $__interval_ms and $__interval. */
export function fluxMacros(flux: string, c: FluxQueryContext): string {
  const intervalMs = c.intervalMs === 0 ? 1 : c.intervalMs;
  const bucket = c.bucket || c.defaultBucket;
  let out = flux;
  for (const match of flux.matchAll(FLUX_VARIABLE)) {
    const replacement: Record<string, string> = {
      timeRangeStart: goRfc3339Nano(c.from),
      timeRangeStop: goRfc3339Nano(c.to),
      windowPeriod: goDuration(intervalMs),
      bucket: `"${bucket}"`,
      defaultBucket: `"${c.defaultBucket}"`,
      organization: `"${c.organization}"`,
    };
    if (match[2] in replacement) out = out.split(match[0]).join(replacement[match[2]]);
  }
  out = out.split("$__interval_ms").join(String(intervalMs));
  return out.split("$__interval").join(formatInterval(intervalMs));
}

// --- frontend: intervals ---------------------------------------------------------------------------

/** rangeutil.ts roundInterval. */
export function roundInterval(interval: number): number {
  const steps: Array<[number, number]> = [
    [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000], [32400000, 21600000],
    [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000], [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (interval < below) return value;
  return 31536000000;
}

/** rangeutil.ts intervalToMs for "10s", "1m", "500ms", "2h", "1d" (and a bare number of seconds). */
export function intervalToMs(text: string): number {
  if (Number(text)) return Number.parseInt(text, 10) * 1000;
  const m = /^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])/.exec(text);
  if (!m) throw new Error(`Invalid interval string: ${text}`);
  const seconds: Record<string, number> = { y: 31536000, M: 2592000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
  return seconds[m[2]] * 1000 * Number.parseInt(m[1], 10);
}

/** rangeutil.ts calculateInterval: the range over the resolution, rounded, at least the low limit. */
export function calculateIntervalMs(fromMs: number, toMs: number, resolution: number, lowLimit?: string): number {
  const lowLimitMs = lowLimit ? intervalToMs(lowLimit) : 1;
  return Math.max(lowLimitMs, roundInterval((toMs - fromMs) / resolution));
}

/** A dashboard time expression such as "now", "now-1h", "now-30m" (datemath without rounding). */
export function parseRelativeTime(expression: string, now: number): number {
  if (expression === "now") return now;
  const m = /^now-(\d+)(s|m|h|d|w|M|y)$/.exec(expression);
  if (!m) {
    const absolute = Date.parse(expression);
    if (!Number.isNaN(absolute)) return absolute;
    throw new Error(`time expression not modelled here: ${expression}`);
  }
  const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 30 * 86_400_000, y: 365 * 86_400_000 };
  return now - Number(m[1]) * unitMs[m[2]];
}

// --- frontend: template variables -----------------------------------------------------------------

export const ALL_VARIABLE_VALUE = "$__all";

/** A variable's value as the interpolator sees it. */
export interface VariableValue {
  name: string;
  multi?: boolean;
  includeAll?: boolean;
  /** the selection: one value, several, or every option's value for All without a custom value */
  value: string | string[];
  text?: string | string[];
  /** the custom all value (selection All with allValue set): not escaped by any format */
  customAll?: string;
}

export type FormatFn = (value: string | string[], variable: VariableValue) => string;

/** packages/grafana-data/src/text/string.ts escapeRegex. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, "\\$&");
}

const sqlEscape = (v: string) => `'${v.replace(/'|"/g, (c) => (c === "'" ? "''" : '\\"'))}'`;
const luceneEscape = (v: string) => (Number.isNaN(+v) ? v.replace(/([!*+\-=<>\s&|()[\]{}^~?:\\/"])/g, "\\$1") : v);
const encodeStrict = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** scenes formatRegistry.ts, the formats a query may name. */
const FORMATS: Record<string, (value: string | string[], args: string[], variable: VariableValue) => string> = {
  glob: (v) => (Array.isArray(v) && v.length > 1 ? `{${v.join(",")}}` : String(v)),
  raw: (v) => String(v),
  regex: (v) => (typeof v === "string" ? escapeRegex(v) : v.length === 1 ? escapeRegex(v[0]) : `(${v.map(escapeRegex).join("|")})`),
  pipe: (v) => (typeof v === "string" ? v : v.join("|")),
  csv: (v) => (typeof v === "string" ? v : v.join(",")),
  json: (v) => (typeof v === "string" ? v : JSON.stringify(v)),
  doublequote: (v) => (Array.isArray(v) ? v : [v]).map((x) => `"${x.replace(/"/g, '\\"')}"`).join(","),
  singlequote: (v) => (Array.isArray(v) ? v : [v]).map((x) => `'${x.replace(/'/g, "\\'")}'`).join(","),
  sqlstring: (v) => (Array.isArray(v) ? v : [v]).map(sqlEscape).join(","),
  distributed: (v, _a, variable) => (typeof v === "string" ? v : v.map((x, i) => (i === 0 ? x : `${variable.name}=${x}`)).join(",")),
  lucene: (v) => (typeof v === "string" ? luceneEscape(v) : v.length === 0 ? "__empty__" : `(${v.map((x) => `"${luceneEscape(x)}"`).join(" OR ")})`),
  percentencode: (v) => encodeStrict(Array.isArray(v) ? `{${v.join(",")}}` : v),
  join: (v, args) => (Array.isArray(v) ? v.join(args[0] ?? ",") : String(v)),
  text: (v, _a, variable) => (variable.text === undefined ? String(v) : Array.isArray(variable.text) ? variable.text.join(" + ") : variable.text),
  queryparam: (v, _a, variable) => (Array.isArray(v) ? v : [v]).map((x) => `var-${variable.name}=${encodeStrict(x)}`).join("&"),
};

/** scenes VARIABLE_REGEX. */
const VARIABLE_REGEX = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/**
 * sceneInterpolator: replaces every variable expression whose name is known; an explicit format
 * wins over `format`; without either, glob.
 */
export function interpolateVariables(target: string, variables: Record<string, VariableValue>, format?: string | FormatFn): string {
  return target.replace(VARIABLE_REGEX, (match, var1?: string, var2?: string, fmt2?: string, var3?: string, fieldPath?: string, fmt3?: string) => {
    const name = (var1 || var2 || var3) as string;
    let variable = Object.prototype.hasOwnProperty.call(variables, name) ? variables[name] : undefined;
    if (!variable) return match;
    const fmt = fmt2 || fmt3 || format;
    if (fieldPath !== undefined) {
      // ${var.N}: one value of a multi-value selection; other field paths (objects) are not modelled
      if (!Array.isArray(variable.value) || !/^\d+$/.test(fieldPath)) throw new Error(`\${${name}.${fieldPath}}: field paths other than an index into a multi-value selection are not modelled`);
      variable = { ...variable, value: variable.value[Number(fieldPath)] ?? "", customAll: undefined };
    }
    if (variable.customAll !== undefined) {
      // CustomAllValue.formatter, then interpolated again
      if (fmt === "text") return "All";
      const value = fmt === "percentencode" ? encodeStrict(variable.customAll) : fmt === "queryparam" ? `var-${variable.name}=All` : variable.customAll;
      return interpolateVariables(value, variables);
    }
    if (typeof fmt === "function") return fmt(variable.value, variable);
    const [id, ...args] = (fmt ?? "glob").split(":");
    const formatter = FORMATS[id] ?? FORMATS.glob;
    return formatter(variable.value, args, variable);
  });
}

/**
 * datasource.ts interpolateQueryExpr as variables.ts passes it (unbound, so without the query):
 * numbers pass, multi-value variables are regex-escaped and joined as (a|b), others pass as they are.
 */
export const influxVariableQueryFormat: FormatFn = (value, variable) => {
  if (typeof value === "string" && !Number.isNaN(Number.parseFloat(value))) return value;
  if (variable.multi) {
    if (typeof value === "string") return escapeRegex(value);
    return `(${value.map(escapeRegex).join("|")})`;
  }
  return Array.isArray(value) ? value.join(",") : value;
};

/** The scoped variables of a panel request: time macros, and the interval ones kept for the backend. */
export function requestVariables(fromMs: number, toMs: number): Record<string, VariableValue> {
  const rangeMs = toMs - fromMs;
  const v = (name: string, value: string): VariableValue => ({ name, value });
  return {
    __from: v("__from", String(fromMs)),
    __to: v("__to", String(toMs)),
    __range_ms: v("__range_ms", String(rangeMs)),
    __range_s: v("__range_s", String(Math.round(rangeMs / 1000))),
    __range: v("__range", `${Math.round(rangeMs / 1000)}s`),
    __interval: v("__interval", "$__interval"),
    __interval_ms: v("__interval_ms", "$__interval_ms"),
  };
}
