// The query benchmark's figures as Markdown: one table per fleet size, the before/after of the
// fixed queries, and docs/PERFORMANCE.md's section "dashboards" between its own markers
// (bench/influxdb/doc-sections.ts: bench/run.ts rewrites the rest of that file and keeps it).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSection } from "../influxdb/doc-sections";
import { quantile, type Fleet, type QueryFigures } from "./query-bench";

/** This benchmark's section of docs/PERFORMANCE.md. */
export const SECTION = "dashboards";

export interface FleetReport extends Fleet {
  rssBeforeQueriesMiB: number;
  /** influxd's RSS after each query set's rounds, by set */
  queryRssMiB: Record<string, number>;
  peakMiB: number;
  loadAfter: number;
  queries: QueryFigures[];
}

export interface BenchReport {
  date: string;
  machine: { cpus: number; model: string; memoryGiB: number; kernel: string; loadBefore: number };
  influxd: string;
  repeats: number;
  beforeRepeats: number;
  timeoutMs: number;
  fleets: FleetReport[];
}

/** The panels whose queries issue 17 changed (dashboards/queries.ts). */
const FIXED = /^IoT fleet overview › "(Silent devices|Ingest rate|Latest reading per device|Temperature|Relative humidity|Air pressure|Signal strength|Battery)"$|^IoT pipeline health › "(Data freshness per device|Points per minute)"$/;

/** Grafana draws at most this many rows per panel in a browser without trouble (issue 17). */
export const ROWS_LIMIT = 20_000;

const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value).toLocaleString("en")} ms`);
const n = (value: number) => value.toLocaleString("en");

/** One line per query of a set: p50, p95, rows. */
function row(f: QueryFigures): string {
  const p50 = quantile(f.runs, 0.5);
  const p95 = quantile(f.runs, 0.95);
  const flags = [f.error ? `error: ${f.error}` : "", f.rows > ROWS_LIMIT && f.kind === "panel" ? "**too many rows**" : ""].filter(Boolean).join("; ");
  return `| ${f.name.replace(/\|/g, "\\|")} | ${ms(p50)} | ${ms(p95)} | ${n(f.rows)} | ${flags} |`;
}

export function renderTables(fleet: FleetReport): string {
  const after = fleet.queries.filter((q) => q.set === "after");
  const lines = [
    `#### ${n(fleet.devices)} devices, ${fleet.backfill} backfilled at the default 5 s interval`,
    "",
    `${n(fleet.points)} readings of 5 fields each (backfilled in ${Math.round(fleet.backfillSeconds)} s, ${n(Math.round(fleet.pointsPerSecond))} readings/s), ` +
      `${n(fleet.seriesCardinality)} series keys (influxdb.cardinality(): measurement and tags, one per device and one for the simulator's metrics); influxd RSS ${n(fleet.rssAfterBackfillMiB)} MiB after the backfill, ` +
      `${Object.entries(fleet.queryRssMiB).map(([set, mib]) => `${n(mib)} MiB after the ${set} queries`).join(", ")}, peak ${n(fleet.peakMiB)} MiB.`,
    "",
    "| query (as provisioned now) | p50 | p95 | rows | |",
    "|---|---:|---:|---:|---|",
    ...after.map(row),
  ];
  const before = fleet.queries.filter((q) => q.set === "before");
  if (before.length > 0) {
    const byName = new Map(before.map((q) => [q.name, q]));
    // the panels issue 17 changed, and any other query whose rows or time moved
    const changed = after.filter((a) => {
      const b = byName.get(a.name);
      return b && (FIXED.test(a.name) || b.rows !== a.rows || Math.abs(quantile(b.runs, 0.5) - quantile(a.runs, 0.5)) > Math.max(50, 0.25 * quantile(b.runs, 0.5)));
    });
    lines.push(
      "",
      `Before / after (the queries as provisioned before issue 17's fix, on the same data; before: ${before[0].runs.length} runs each):`,
      "",
      "| query | p50 before | p95 before | rows before | p50 after | p95 after | rows after |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...changed.map((a) => {
        const b = byName.get(a.name)!;
        const err = b.error ? ` (${b.error})` : "";
        return `| ${a.name} | ${ms(quantile(b.runs, 0.5))}${err} | ${ms(quantile(b.runs, 0.95))} | ${n(b.rows)} | ${ms(quantile(a.runs, 0.5))} | ${ms(quantile(a.runs, 0.95))} | ${n(a.rows)} |`;
      }),
    );
  }
  return lines.join("\n");
}

/** Per dashboard (and the alert rules) and fleet: the slowest query's p95 and the most rows a panel returned, before and after. */
export function renderSummary(report: BenchReport): string {
  const groupOf = (f: QueryFigures) => (f.kind === "alert" ? "alert rules" : f.name.split(" › ")[0]);
  const groups = [...new Set(report.fleets.flatMap((fleet) => fleet.queries.map(groupOf)))];
  const cell = (fleet: FleetReport, group: string, set: string) => {
    const qs = fleet.queries.filter((q) => q.set === set && groupOf(q) === group && q.kind !== "variable");
    if (qs.length === 0) return "–";
    const slowest = qs.reduce((a, b) => (quantile(a.runs, 0.95) >= quantile(b.runs, 0.95) ? a : b));
    const rows = Math.max(...qs.map((q) => q.rows));
    const name = slowest.kind === "alert" ? slowest.name.replace(/^alert /, "") : slowest.name.split(" › ").slice(1).join(" › ");
    return `${ms(quantile(slowest.runs, 0.95))} (${name}); ${n(rows)} rows`;
  };
  const head = report.fleets.map((f) => `${n(f.devices)} devices (${f.backfill})`);
  const lines = [
    "| dashboard | query set | " + head.join(" | ") + " |",
    "|---|---|" + head.map(() => "---|").join(""),
  ];
  for (const group of groups) {
    for (const set of ["before", "after"]) {
      if (!report.fleets.some((f) => f.queries.some((q) => q.set === set))) continue;
      lines.push(`| ${group} | ${set} | ${report.fleets.map((f) => cell(f, group, set)).join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

export function renderSection(report: BenchReport): string {
  const notes = join(__dirname, "notes.md");
  return [
    "## Dashboards and alert queries at fleet scale",
    "",
    `Generated by \`npm run bench:dashboards\` on ${report.date.slice(0, 10)}; the notes after the tables come from \`bench/dashboards/notes.md\`.`,
    `Machine: ${report.machine.model}, ${report.machine.cpus} cores, ${report.machine.memoryGiB} GiB, Linux ${report.machine.kernel}; load average ${report.machine.loadBefore.toFixed(1)} at the start` +
      ` (the machine was shared). ${report.influxd}. Each query of the program's set run ${report.repeats} times, of the older set ${report.beforeRepeats} times, interleaved; a query is cut off after ${report.timeoutMs / 1000} s.`,
    "",
    "Summary: per dashboard, the slowest query's p95 (which one) and the most rows one panel returned (the alert rules: one row per device is one alert instance per device, by design).",
    "",
    renderSummary(report),
    "",
    ...report.fleets.flatMap((f) => [renderTables(f), ""]),
    existsSync(notes) ? readFileSync(notes, "utf8").trimEnd() : "",
  ].join("\n");
}

export function writeDocSection(file: string, report: BenchReport): void {
  writeSection(file, SECTION, renderSection(report));
}
