// Every Flux query the program provisions into Grafana, found the way Grafana finds them and turned
// into the text Grafana would send (support/grafana-interpolation.ts):
//  - dashboards: the staged dashboard provider files (GF_PATHS_PROVISIONING/dashboards/*.yaml) name
//    a folder; every *.json staged under it is a dashboard. In each: panels, nested in rows at any
//    depth, their targets' `query`, and templating.list[] query variables. These files are what
//    dashboards/ builds (buildDashboards) with the program's own options: the program stages them.
//  - alert rules: every file staged under GF_PATHS_PROVISIONING/alerting/, groups[].rules[].data[],
//    the queries on the InfluxDB datasource (model.query); expression queries (__expr__) are
//    Grafana's own and read no data.
// So a dashboard or rule added to the program is picked up without a change here. A Flux query
// staged anywhere else for Grafana is reported (unplaced), so that nothing is left untested silently.
import { parse } from "yaml";
import type { Declared } from "./program";
import type { GrafanaDatasource } from "./stack";
import type { FluxResult } from "./http";
import {
  ALL_VARIABLE_VALUE,
  calculateIntervalMs,
  fluxMacros,
  influxVariableQueryFormat,
  interpolateVariables,
  parseRelativeTime,
  requestVariables,
  type VariableValue,
} from "./grafana-interpolation";

/** A browser's dashboard width: a panel of w grid columns (of 24) is w/24 of it wide, in pixels. */
export const DASHBOARD_WIDTH_PX = 1920;
/** Grafana's default dashboard range, when a dashboard sets none. */
const DEFAULT_TIME = { from: "now-6h", to: "now" };
const EXPRESSION_UID = "__expr__";

export interface Dashboard {
  file: string;
  json: any;
}

export interface AlertQuery {
  source: string;
  refId: string;
  relativeTimeRange: { from: number; to: number };
  model: any;
}

export interface Provisioned {
  dashboards: Dashboard[];
  alerts: AlertQuery[];
  /** Flux text staged for Grafana in a place this walker does not know how Grafana runs */
  unplaced: string[];
}

const isFlux = (text: unknown) => typeof text === "string" && /\bfrom\s*\(\s*bucket\s*:/.test(text);

function parseFile(path: string, content: string): any {
  return path.endsWith(".json") ? JSON.parse(content) : parse(content);
}

/** The dashboards and alert queries the program provisions, from Grafana's staged files. */
export function provisioned(decl: Declared): Provisioned {
  const files = decl.filesOf(decl.grafana);
  const provisioning = decl.grafana.env.GF_PATHS_PROVISIONING ?? "/etc/grafana/provisioning";
  const covered = new Set<string>();

  const dashboardDirs: string[] = [];
  for (const [path, content] of files) {
    if (path.startsWith(`${provisioning}/dashboards/`) && /\.ya?ml$/.test(path)) {
      for (const provider of parse(content)?.providers ?? []) if (provider.type === "file" && provider.options?.path) dashboardDirs.push(provider.options.path.replace(/\/$/, ""));
    }
  }
  const dashboards: Dashboard[] = [];
  for (const [path, content] of files) {
    if (path.endsWith(".json") && dashboardDirs.some((d) => path.startsWith(`${d}/`))) {
      dashboards.push({ file: path, json: JSON.parse(content) });
      covered.add(path);
    }
  }

  const alerts: AlertQuery[] = [];
  for (const [path, content] of files) {
    if (!path.startsWith(`${provisioning}/alerting/`) || !/\.(ya?ml|json)$/.test(path)) continue;
    covered.add(path);
    for (const group of parseFile(path, content)?.groups ?? []) {
      for (const rule of group.rules ?? []) {
        for (const item of rule.data ?? []) {
          if (item.datasourceUid === EXPRESSION_UID) continue;
          alerts.push({
            source: `${path} › group "${group.name}" › rule "${rule.title}" (${rule.uid}) › ${item.refId} [datasource ${item.datasourceUid}]`,
            refId: item.refId,
            relativeTimeRange: item.relativeTimeRange ?? { from: 600, to: 0 },
            model: { ...item.model, datasourceUid: item.datasourceUid },
          });
        }
      }
    }
  }

  const unplaced = [...files].filter(([path, content]) => !covered.has(path) && isFlux(content)).map(([path]) => path);
  return { dashboards, alerts, unplaced };
}

// --- dashboards -----------------------------------------------------------------------------------

export interface PanelTarget {
  source: string;
  panel: any;
  target: any;
  datasourceUid?: string;
}

/** Every panel (rows' panels included, at any depth) with targets. */
export function panelTargets(d: Dashboard): PanelTarget[] {
  const out: PanelTarget[] = [];
  const walk = (panels: any[], path: string) => {
    for (const panel of panels ?? []) {
      const here = `${path} › panel "${panel.title ?? panel.id}"`;
      for (const target of panel.targets ?? []) {
        if (target.hide) continue;
        out.push({ source: `${here} › ${target.refId}`, panel, target, datasourceUid: target.datasource?.uid ?? panel.datasource?.uid });
      }
      if (Array.isArray(panel.panels)) walk(panel.panels, here);
    }
  };
  walk(d.json.panels, `${d.file} › "${d.json.title}"`);
  return out;
}

/** Flux anywhere in a dashboard outside panels' targets and query variables (a shape this walker does not run). */
export function unplacedInDashboard(d: Dashboard): string[] {
  const placed = new Set<unknown>([...panelTargets(d).map((t) => t.target.query), ...(d.json.templating?.list ?? []).map((v: any) => variableQueryText(v))]);
  const found: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (isFlux(value) && !placed.has(value)) found.push(path);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  };
  walk(d.json, d.file);
  return found;
}

function variableQueryText(variable: any): string | undefined {
  return typeof variable.query === "string" ? variable.query : variable.query?.query;
}

export interface Execution {
  source: string;
  kind: "panel" | "variable" | "alert";
  /** the query as provisioned */
  provisioned: string;
  /** the text sent to InfluxDB */
  flux: string;
  result: FluxResult;
  maxDataPoints: number;
}

export interface RunContext {
  now: number;
  datasource: GrafanaDatasource;
  run(flux: string): Promise<FluxResult>;
}

/**
 * Which selection a dashboard is opened with: "default", the saved one (All where a variable has
 * All saved, else its first option, as Grafana picks); "first", every variable on its first real
 * option (a concrete value, so the escaping path runs too).
 */
export type SelectionMode = "default" | "first";

function isOurs(uid: string | undefined, ds: GrafanaDatasource): boolean {
  return uid === ds.uid || (uid === undefined && ds.isDefault);
}

/** scenes sortVariableValues for the sort modes the builders may set. */
function sortOptions(values: string[], sort: number): string[] {
  const out = [...values];
  const num = (v: string) => Number(/\d+/.exec(v)?.[0] ?? NaN);
  switch (sort) {
    case 1: return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    case 2: return out.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    case 3: return out.sort((a, b) => num(a) - num(b));
    case 4: return out.sort((a, b) => num(b) - num(a));
    case 5: return out.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    case 6: return out.sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase()));
    case 7: return out.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    case 8: return out.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
    default: return out;
  }
}

/** datasource.ts toMetricFindValue: the first string column (else the first non-time one) of every table, deduplicated. */
function metricFindValues(result: FluxResult): string[] {
  const values = new Set<string>();
  for (const table of result.tables) {
    const columns = Object.entries(table.datatypes).filter(([name]) => name !== "result" && name !== "table");
    const column = columns.find(([, t]) => t === "string") ?? columns.find(([, t]) => !t.startsWith("dateTime"));
    if (column) for (const row of table.rows) values.add(row[column[0]]);
  }
  return [...values];
}

/**
 * A panel's request: max data points (its maxDataPoints option, else its width in pixels) and the
 * interval Grafana computes from them (PanelQueryRunner, rangeutil calculateInterval), at least the
 * panel's or the datasource's minimum interval.
 */
export function panelRequest(panel: any, from: number, to: number, ds: GrafanaDatasource): { maxDataPoints: number; intervalMs: number } {
  const width = Math.round(((panel.gridPos?.w ?? 24) / 24) * DASHBOARD_WIDTH_PX);
  const maxDataPoints = panel.maxDataPoints ?? width;
  return { maxDataPoints, intervalMs: calculateIntervalMs(from, to, maxDataPoints, panel.interval ?? ds.jsonData.timeInterval) };
}

/** The longest interval (v.windowPeriod) of the panels whose query matches `reads`, opened now. */
export function longestPanelIntervalMs(dashboards: Dashboard[], now: number, ds: GrafanaDatasource, reads: (query: string) => boolean): number {
  let longest = 0;
  for (const d of dashboards) {
    const time = d.json.time ?? DEFAULT_TIME;
    const from = parseRelativeTime(time.from, now);
    const to = parseRelativeTime(time.to, now);
    for (const t of panelTargets(d)) if (reads(String(t.target.query))) longest = Math.max(longest, panelRequest(t.panel, from, to, ds).intervalMs);
  }
  return longest;
}

/** Runs every variable query and every panel query of a dashboard as Grafana would open it. */
export async function runDashboard(d: Dashboard, mode: SelectionMode, ctx: RunContext): Promise<Execution[]> {
  const time = d.json.time ?? DEFAULT_TIME;
  const from = parseRelativeTime(time.from, ctx.now);
  const to = parseRelativeTime(time.to, ctx.now);
  const executions: Execution[] = [];
  const variables: Record<string, VariableValue> = { ...requestVariables(from, to) };
  const macros = (flux: string, intervalMs: number) =>
    fluxMacros(flux, { from: new Date(from), to: new Date(to), intervalMs, organization: ctx.datasource.organization, defaultBucket: ctx.datasource.defaultBucket });
  const label = mode === "default" ? "saved selection" : "first option of every variable";

  for (const v of d.json.templating?.list ?? []) {
    const source = `${d.file} › "${d.json.title}" › variable ${v.name} (${label})`;
    let options: string[];
    switch (v.type) {
      case "query": {
        const text = variableQueryText(v);
        if (!isOurs(v.datasource?.uid, ctx.datasource) || text === undefined) throw new Error(`${source}: a query variable on another datasource is not modelled`);
        // variables.ts: interpolateQueryExpr; then DataSourceWithBackend.query applies
        // applyTemplateVariables (glob, no change left to make) and the backend its macros, with
        // the request's interval 0, which getQueryModel makes 1 ms.
        const interpolated = interpolateVariables(interpolateVariables(text, variables, influxVariableQueryFormat), variables);
        const flux = macros(interpolated, 0);
        const result = await ctx.run(flux);
        executions.push({ source, kind: "variable", provisioned: text, flux, result, maxDataPoints: 10_000 });
        options = metricFindValues(result);
        if (v.regex) {
          const re = new RegExp(v.regex.replace(/^\/(.*)\/[gimsuy]*$/, "$1"));
          options = options.map((o) => re.exec(o)).filter((m): m is RegExpExecArray => m !== null).map((m) => m[1] ?? m[0]);
        }
        options = sortOptions(options, v.sort ?? 0);
        break;
      }
      case "custom":
      case "interval":
        options = (String(v.query ?? "").match(/(?:\\,|[^,])+/g) ?? []).map((o) => o.trim().replace(/\\,/g, ","));
        options = options.map((o) => (/ : /.test(o) ? o.split(" : ")[1] : o));
        break;
      case "constant":
        options = [String(v.query ?? "")];
        break;
      case "textbox":
        options = [String(v.current?.value ?? v.query ?? "")];
        break;
      default:
        throw new Error(`${source}: variables of type ${v.type} are not modelled in support/grafana-interpolation.ts`);
    }
    const saved = v.current?.value;
    const savedAll = saved === ALL_VARIABLE_VALUE || (Array.isArray(saved) && saved[0] === ALL_VARIABLE_VALUE);
    let value: string | string[];
    let customAll: string | undefined;
    if (mode === "default" && savedAll && v.includeAll) {
      if (v.allValue) customAll = v.allValue;
      value = options;
    } else if (mode === "default" && saved !== undefined && saved !== "" && [saved].flat().every((s: string) => options.includes(s))) {
      value = saved;
    } else {
      value = v.multi ? options.slice(0, 1) : (options[0] ?? "");
    }
    variables[v.name] = { name: v.name, multi: v.multi, includeAll: v.includeAll, value, customAll };
  }

  for (const t of panelTargets(d)) {
    if (t.datasourceUid === EXPRESSION_UID) continue;
    if (!isOurs(t.datasourceUid, ctx.datasource)) throw new Error(`${t.source}: a target on datasource ${t.datasourceUid} is not modelled`);
    const text = t.target.query;
    if (typeof text !== "string" || text.trim() === "") throw new Error(`${t.source}: a target without a Flux query`);
    const { maxDataPoints, intervalMs } = panelRequest(t.panel, from, to, ctx.datasource);
    // datasource.ts applyTemplateVariables (Flux): the default format; then the backend's macros
    const flux = macros(interpolateVariables(text, variables), intervalMs);
    executions.push({ source: `${t.source} (${label})`, kind: "panel", provisioned: text, flux, result: await ctx.run(flux), maxDataPoints });
  }
  return executions;
}

/** Runs an alert query as the rule's evaluation would: its relative range before `now`, its interval. */
export async function runAlertQuery(a: AlertQuery, ctx: RunContext): Promise<Execution> {
  if (!isOurs(a.model.datasourceUid, ctx.datasource)) throw new Error(`${a.source}: a query on datasource ${a.model.datasourceUid} is not modelled`);
  const text = a.model.query;
  if (typeof text !== "string") throw new Error(`${a.source}: no Flux query in model.query`);
  const flux = fluxMacros(text, {
    from: new Date(ctx.now - a.relativeTimeRange.from * 1000),
    to: new Date(ctx.now - a.relativeTimeRange.to * 1000),
    intervalMs: a.model.intervalMs ?? 1000,
    organization: ctx.datasource.organization,
    defaultBucket: ctx.datasource.defaultBucket,
    bucket: a.model.options?.bucket,
  });
  return { source: a.source, kind: "alert", provisioned: text, flux, result: await ctx.run(flux), maxDataPoints: a.model.maxDataPoints ?? 43_200 };
}

/** What Grafana would report for an execution: an error, no data, or too many points for one series. */
export function problem(e: Execution, requireRows = true): string | undefined {
  if (e.result.error !== undefined) return `InfluxDB answered ${e.result.status}: ${e.result.error}`;
  if (requireRows && e.result.rowCount === 0) return "no rows (Grafana shows No data)";
  const limit = e.maxDataPoints * 10;
  const big = e.result.tables.find((t) => t.rows.length > limit);
  if (big) return `a series of ${big.rows.length} points, over Grafana's limit of ${limit} (10 × maxDataPoints ${e.maxDataPoints}, pkg/tsdb/influxdb/flux/executor.go)`;
  return undefined;
}
