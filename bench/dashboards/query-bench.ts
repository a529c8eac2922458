// The dashboards' and alert rules' cost at fleet scale, on the real influxd: a fleet backfilled by
// the real simulator, then every provisioned panel, variable and alert query run as Grafana runs it
// (test/influxdb/support/provisioned-queries.ts, interpolated by support/grafana-interpolation.ts,
// "All" where a variable offers it, each dashboard's default range), several times: p50/p95 of the
// time to the last byte of the answer, rows returned, influxd's memory, the series cardinality.
//
// Runs inside jest (bench/dashboards/jest.config.js), because the program is read under Pulumi
// mocks through test/support/harness.ts, which needs jest.isolateModules. It is a benchmark, not
// a test: nothing here asserts a time.
import { request } from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { parseAnnotatedCsv, type FluxResult } from "../../test/influxdb/support/http";
import { provisioned, runAlertQuery, runDashboard, type AlertQuery, type Dashboard, type Execution, type RunContext } from "../../test/influxdb/support/provisioned-queries";
import { runToExit, simulatorEnv } from "../../test/influxdb/support/simulator";
import type { Stack } from "../../test/influxdb/support/stack";
import { statusKiB } from "../influxdb/ingest";

/** A set of provisioned queries: the program's own, or a snapshot of an older version's (the "before" of a fix). */
export interface QuerySet {
  label: string;
  dashboards: Dashboard[];
  alerts: AlertQuery[];
}

export function programQuerySet(stack: Stack, label = "after"): QuerySet {
  const found = provisioned(stack.decl);
  return { label, dashboards: found.dashboards, alerts: found.alerts };
}

/** Writes the program's current query set to a file, so that a later version can be measured against it. */
export function writeQuerySet(set: QuerySet, file: string): void {
  writeFileSync(file, `${JSON.stringify({ dashboards: set.dashboards, alerts: set.alerts }, null, 1)}\n`);
}

export function readQuerySet(file: string, label: string): QuerySet {
  const parsed = JSON.parse(readFileSync(file, "utf8"));
  return { label, dashboards: parsed.dashboards, alerts: parsed.alerts };
}

/**
 * Answers larger than this are counted, not kept: a panel of the fleet overview before its fix
 * answered 7 M rows at 10,000 devices, more than a JavaScript string can hold. Variables and the
 * small answers are parsed as support/http.ts fluxQuery does.
 */
const KEEP_BODY_BYTES = 32 * 1024 * 1024;

export interface TimedResult extends FluxResult {
  ms: number;
  bytes: number;
}

/**
 * POST /api/v2/query as support/http.ts fluxQuery sends it (Grafana's client's annotations), but
 * streamed: the time is to the last byte, and data rows are counted line by line (a data row of
 * annotated CSV starts with the empty annotation column; each table's header starts ",result,table").
 */
export function timedFluxQuery(stack: Stack, token: string, flux: string, timeoutMs: number): Promise<TimedResult> {
  const body = JSON.stringify({ query: flux, type: "flux", dialect: { header: true, delimiter: ",", annotations: ["datatype", "group", "default"] } });
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(
      {
        host: "127.0.0.1",
        port: stack.server.port,
        servername: "localhost",
        method: "POST",
        path: `/api/v2/query?${new URLSearchParams({ org: stack.datasource.organization })}`,
        headers: { authorization: `Token ${token}`, "content-type": "application/json", accept: "application/csv" },
        ca: readFileSync(stack.server.caFile),
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const kept: Buffer[] = [];
        let bytes = 0;
        let rows = 0;
        let partial = "";
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= KEEP_BODY_BYTES) kept.push(chunk);
          const text = partial + chunk.toString("utf8");
          const lines = text.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) if (line.startsWith(",") && !line.startsWith(",result,table")) rows++;
        });
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (partial.startsWith(",") && !partial.startsWith(",result,table")) rows++;
          const status = res.statusCode ?? 0;
          const raw = bytes <= KEEP_BODY_BYTES ? Buffer.concat(kept).toString("utf8") : "";
          if (status !== 200) {
            let message = raw;
            try {
              message = JSON.parse(raw).message ?? raw;
            } catch {
              // not JSON: keep the body
            }
            resolve({ status, error: message, tables: [], rowCount: 0, raw: "", ms, bytes });
            return;
          }
          if (bytes > KEEP_BODY_BYTES) {
            resolve({ status, tables: [], rowCount: rows, raw: "", ms, bytes });
            return;
          }
          const tables = parseAnnotatedCsv(raw);
          const errorTable = tables.find((t) => "error" in t.datatypes && "reference" in t.datatypes);
          resolve({ status, error: errorTable?.rows[0]?.error, tables: errorTable ? [] : tables, rowCount: errorTable ? 0 : rows, raw: "", ms, bytes });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      req.destroy();
      resolve({ status: 0, error: `no answer within ${timeoutMs} ms`, tables: [], rowCount: 0, raw: "", ms, bytes: 0 });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** influxd's resident and peak resident memory, from /proc (Linux), in MiB. */
export function influxdMemory(stack: Stack): { rssMiB: number; peakMiB: number } {
  const pid = stack.server.process.pid as number;
  return { rssMiB: Math.round(statusKiB(pid, "VmRSS") / 1024), peakMiB: Math.round(statusKiB(pid, "VmHWM") / 1024) };
}

export interface Fleet {
  devices: number;
  /** the simulator's SIM_BACKFILL */
  backfill: string;
  points: number;
  backfillSeconds: number;
  pointsPerSecond: number;
  /** the end of the backfill: the queries run as if opened at that moment */
  now: number;
  seriesCardinality: number;
  rssAfterBackfillMiB: number;
}

/** Backfills `devices` with the real simulator (the program's simulator settings, the default interval), to the end of the backfill. */
export async function backfill(stack: Stack, devices: number, span: string, deadlineMs: number): Promise<Fleet> {
  const env = simulatorEnv(stack, { SIM_DEVICES: String(devices), SIM_BACKFILL: span, SIM_EXIT_AFTER_BACKFILL: "true" });
  const started = Date.now();
  const run = await runToExit(env, deadlineMs);
  const seconds = (Date.now() - started) / 1000;
  if (run.code !== 0) throw new Error(`the simulator's backfill failed (exit ${run.code}):\n${stack.server.redact(run.sim.output().slice(-3000))}`);
  const to = run.sim.logs.find((l) => l.msg === "backfill started")?.to;
  if (typeof to !== "string") throw new Error(`the simulator logged no "backfill started" with its end`);
  const token = stack.grafanaToken();
  const count = await timedFluxQuery(
    stack,
    token,
    `from(bucket: ${JSON.stringify(stack.setup.bucket)}) |> range(start: 0) |> filter(fn: (r) => r._field == "battery_pct") |> group() |> count()`,
    600_000,
  );
  const points = Number(count.tables[0]?.rows[0]?._value ?? NaN);
  return {
    devices,
    backfill: span,
    points,
    backfillSeconds: seconds,
    pointsPerSecond: points / seconds,
    now: Date.parse(to),
    seriesCardinality: await seriesCardinality(stack),
    rssAfterBackfillMiB: influxdMemory(stack).rssMiB,
  };
}

/** influxdb.cardinality() over the bucket's whole retention: the series InfluxDB indexes for it. */
export async function seriesCardinality(stack: Stack): Promise<number> {
  const flux = `import "influxdata/influxdb"\ninfluxdb.cardinality(bucket: ${JSON.stringify(stack.setup.bucket)}, start: time(v: 0))`;
  const result = await timedFluxQuery(stack, stack.grafanaToken(), flux, 120_000);
  if (result.error) throw new Error(`influxdb.cardinality(): ${result.error}`);
  return Number(result.tables[0]?.rows[0]?._value ?? NaN);
}

export interface QueryFigures {
  set: string;
  kind: Execution["kind"];
  /** dashboard › panel, or rule title */
  name: string;
  runs: number[];
  rows: number;
  bytes: number;
  error?: string;
}

/** The dashboard title and panel title (or variable, or rule) of an execution's source. */
function shortName(e: Execution): string {
  if (e.kind === "alert") return `alert "${/rule "([^"]+)"/.exec(e.source)?.[1] ?? e.source}"`;
  const dashboard = /› "([^"]+)"/.exec(e.source)?.[1] ?? "";
  const what = e.kind === "variable" ? `variable ${/variable (\w+)/.exec(e.source)?.[1]}` : `"${/panel "([^"]+)"/.exec(e.source)?.[1]}"`;
  return `${dashboard} › ${what}`;
}

/** Runs every query of `sets` `repeats` times (the sets interleaved per round, so that drift hits both alike). */
export async function measureQueries(stack: Stack, now: number, sets: Array<{ set: QuerySet; repeats: number }>, timeoutMs: number): Promise<{ figures: QueryFigures[]; peakMiB: Record<string, number> }> {
  const token = stack.grafanaToken();
  const figures = new Map<string, QueryFigures>();
  const peakMiB: Record<string, number> = {};
  const rounds = Math.max(...sets.map((s) => s.repeats));
  for (let round = 0; round < rounds; round++) {
    for (const { set, repeats } of sets) {
      if (round >= repeats) continue;
      const timings = new Map<string, TimedResult>();
      const ctx: RunContext = {
        now,
        datasource: stack.datasource,
        run: async (flux) => {
          const result = await timedFluxQuery(stack, token, flux, timeoutMs);
          timings.set(flux, result);
          return result;
        },
      };
      const executions: Execution[] = [];
      for (const d of set.dashboards) executions.push(...(await runDashboard(d, "default", ctx)));
      for (const a of set.alerts) executions.push(await runAlertQuery(a, ctx));
      for (const e of executions) {
        const timed = timings.get(e.flux)!;
        const key = `${set.label}\u0000${e.source}`;
        const f = figures.get(key) ?? { set: set.label, kind: e.kind, name: shortName(e), runs: [], rows: timed.rowCount, bytes: timed.bytes };
        f.runs.push(timed.ms);
        f.rows = timed.rowCount;
        f.bytes = timed.bytes;
        if (timed.error) f.error = timed.error.split("\n")[0].slice(0, 160);
        figures.set(key, f);
      }
      peakMiB[set.label] = Math.max(peakMiB[set.label] ?? 0, influxdMemory(stack).rssMiB);
    }
  }
  return { figures: [...figures.values()], peakMiB };
}

/** The q-quantile of the runs (nearest rank), in ms. */
export function quantile(runs: number[], q: number): number {
  const sorted = [...runs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
