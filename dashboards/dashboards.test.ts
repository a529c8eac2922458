// The three dashboards, checked from their built JSON as Grafana reads it: one datasource by its
// stable uid, unique panel ids, a grid without overlaps, every query bounded by the dashboard's
// range and every time series downsampled to the panel's interval, units and thresholds on every
// panel, and nothing read that the simulator's schema does not have.
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { UNUSUAL_OPTIONS } from "./test-support/options";
import { DATASOURCE_UID } from "../components/grafana-provisioning";
import { loadSettings } from "../settings";
import { READING_FIELDS } from "../simulator/src/schema";
import { stackConfig } from "../test/support/harness";
import { buildDashboards, dashboardObjects, dashboardOptions } from ".";
import { DEVICE_DETAIL_UID } from "./device-detail";
import { FLEET_OVERVIEW_UID } from "./fleet-overview";
import { PIPELINE_HEALTH_UID } from "./pipeline-health";
import { FLEET_ROWS_BUDGET, fleetMaxDataPoints } from "./panels";
import { DEVICE_TABLE_ROWS } from "./queries";
import { dashboardQueries, schemaProblems, usesOf } from "./test-support/flux-inspect";
import { BUILT_IN_ANNOTATION } from "./test-support/grafana";

const OPTIONS = UNUSUAL_OPTIONS;

const built = dashboardObjects(OPTIONS);
const dashboards = Object.values(built) as Dashboard[];
/** A panel as the JSON has it (the SDK's types leave every part optional). */
interface PanelJson {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit?: string; max?: number; thresholds?: { steps: Array<{ value: number | null; color: string }> } }; overrides: Array<{ matcher: { options: string }; properties: Array<{ id: string; value: unknown }> }> };
  targets: Array<{ refId: string; query: string; datasource?: { uid?: string } }>;
}
const panelsOf = (d: Dashboard) => (d.panels ?? []) as unknown as PanelJson[];
const RANGE = "range(start: v.timeRangeStart, stop: v.timeRangeStop)";

test("three dashboards with stable uids, read-only, in the IoT set", () => {
  expect(Object.keys(built)).toEqual(["fleet-overview.json", "device-detail.json", "pipeline-health.json"]);
  expect(dashboards.map((d) => d.uid)).toEqual([FLEET_OVERVIEW_UID, DEVICE_DETAIL_UID, PIPELINE_HEALTH_UID]);
  for (const d of dashboards) {
    expect(d.editable).toBe(false);
    expect(d.tags).toContain("iot");
    // the classic model (see fleet-overview.ts): panels[], no v2 elements/layout
    expect(d).not.toHaveProperty("elements");
    expect(Array.isArray(d.panels)).toBe(true);
  }
});

describe.each(dashboards.map((d) => [d.uid, d] as const))("%s", (_uid, d) => {
  test("alert state on the panels: Grafana's built-in Annotations & Alerts query, first and only", () => {
    // as written to the file (buildDashboards is JSON.stringify of these objects)
    expect(JSON.parse(JSON.stringify(d)).annotations).toEqual({ list: [BUILT_IN_ANNOTATION] });
  });

  test("every panel and every query on the provisioned datasource, by its uid", () => {
    for (const panel of panelsOf(d)) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({ panel: panel.title, uid: DATASOURCE_UID });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect({ panel: panel.title, uid: target.datasource?.uid }).toEqual({ panel: panel.title, uid: DATASOURCE_UID });
    }
    for (const variable of d.templating.list ?? []) expect(variable.datasource?.uid).toBe(DATASOURCE_UID);
  });

  test("panel ids are unique", () => {
    const ids = panelsOf(d).map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("panels lie inside the 24-column grid and do not overlap", () => {
    const boxes = panelsOf(d).map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) {
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.w).toBeLessThanOrEqual(24);
      expect(b.w).toBeGreaterThan(0);
      expect(b.h).toBeGreaterThan(0);
    }
    const overlaps: string[] = [];
    boxes.forEach((a, i) =>
      boxes.slice(i + 1).forEach((b) => {
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) overlaps.push(`${a.title} / ${b.title}`);
      }),
    );
    expect(overlaps).toEqual([]);
  });

  test("every panel has a unit, thresholds and a description (docs/DASHBOARDS.md's 'what its query shows')", () => {
    for (const panel of panelsOf(d)) {
      const defaults = panel.fieldConfig?.defaults ?? {};
      expect({ panel: panel.title, unit: typeof defaults.unit }).toEqual({ panel: panel.title, unit: "string" });
      expect({ panel: panel.title, steps: (defaults.thresholds?.steps?.length ?? 0) > 0 }).toEqual({ panel: panel.title, steps: true });
      expect(panel.description?.length).toBeGreaterThan(20);
    }
  });

  test("every query starts from the configured bucket and is bounded by the dashboard's range", () => {
    const queries = dashboardQueries(d);
    expect(queries.length).toBeGreaterThan(panelsOf(d).length);
    for (const { where, query } of queries) {
      expect({ where, bucket: query.includes(`from(bucket: "${OPTIONS.bucket}")`) }).toEqual({ where, bucket: true });
      expect({ where, range: query.includes(RANGE) }).toEqual({ where, range: true });
      // every source (a query may read two, e.g. float and integer fields apart) straight followed
      // by the dashboard's range, and no other range: nothing is read outside it
      const sources = query.split("from(bucket:").length - 1;
      expect({ where, ranges: query.split("range(").length - 1 }).toEqual({ where, ranges: sources });
      expect({ where, bounded: query.split(`from(bucket: "${OPTIONS.bucket}")\n  |> ${RANGE}`).length - 1 }).toEqual({ where, bounded: sources });
    }
  });

  test("every time series is downsampled to the panel's interval", () => {
    for (const { where, query, panel } of dashboardQueries(d)) {
      if (panel?.type !== "timeseries") continue;
      expect({ where, windowed: query.includes("aggregateWindow(every: v.windowPeriod,") }).toEqual({ where, windowed: true });
    }
  });

  test("every measurement, field and tag a query uses is in the simulator's schema", () => {
    for (const { where, query } of dashboardQueries(d)) expect({ where, problems: schemaProblems(query, OPTIONS.measurement) }).toEqual({ where, problems: [] });
  });
});

test("the schema check finds what is not in the schema (it can fail)", () => {
  const good = dashboardQueries(built["fleet-overview.json"])[4].query;
  expect(schemaProblems(good, OPTIONS.measurement)).toEqual([]);
  expect(schemaProblems(good.replace('"temperature_c"', '"temprature_c"'), OPTIONS.measurement)).toEqual(["field temprature_c is not in environment's schema"]);
  expect(schemaProblems(good.replace('"device"]', '"sensor"]'), OPTIONS.measurement)).toEqual([
    "column sensor is neither a field or tag of environment nor a computed column",
  ]);
  expect(schemaProblems(good.replace('== "environment"', '== "weather"'), OPTIONS.measurement)).toEqual(["unknown measurement weather"]);
});

test("fleet overview: devices reporting against the configured count, silent devices by name, ingest rate, latest readings, every field for the variables", () => {
  const panels = panelsOf(built["fleet-overview.json"]);
  expect(panels.map((p) => p.title)).toEqual([
    `Devices reporting (of ${OPTIONS.devices} configured)`,
    "Silent devices",
    "Ingest rate",
    "Latest reading per device",
    "Temperature",
    "Relative humidity",
    "Air pressure",
    "Signal strength",
    "Battery",
  ]);
  const reporting = panels[0];
  expect(reporting.fieldConfig.defaults.max).toBe(OPTIONS.devices);
  expect(reporting.fieldConfig.defaults.thresholds?.steps.at(-1)).toEqual({ value: OPTIONS.devices, color: "green" });
  // the silent window: silentIntervals × interval = 8 s
  const silentQuery = reporting.targets[0].query;
  expect(silentQuery).toContain("date.sub(d: 8000ms, from: v.timeRangeStop)");
  const silent = panels[1].targets[0];
  expect(silent.query).toContain("r._value > 8.000");
  expect(usesOf(silent.query).columns).toEqual(expect.arrayContaining(["device", "silent_for"]));
  // ingest rate: 12 devices every 2 s = 360 a minute
  expect(panels[2].fieldConfig.defaults.thresholds?.steps).toEqual([{ value: null, color: "orange" }, { value: 360, color: "green" }]);
  // the table has every field, each with its unit, and how many are out of range (the order)
  const units = Object.fromEntries(panels[3].fieldConfig.overrides.map((o) => [o.matcher.options, o.properties.find((p) => p.id === "unit")?.value]));
  expect(Object.keys(units).sort()).toEqual([...Object.keys(READING_FIELDS), "out_of_range"].sort());
  // each field's panel reads that field only, for the site and device variables
  const fields = panels.slice(4).map((p) => usesOf(p.targets[0].query).fields);
  expect(fields).toEqual([["temperature_c"], ["humidity_pct"], ["pressure_hpa"], ["rssi_dbm"], ["battery_pct"]]);
  for (const p of panels.slice(4)) expect(p.targets[0].query).toContain("r.site =~ /^${site:regex}$/ and r.device =~ /^${device:regex}$/");
  // the configured range is the panel's thresholds
  expect(panels[4].fieldConfig.defaults.thresholds?.steps).toEqual([
    { value: null, color: "blue" },
    { value: -3, color: "green" },
    { value: 41, color: "red" },
  ]);
  const variables = built["fleet-overview.json"].templating.list!;
  expect(variables.map((v) => [v.name, v.multi, v.includeAll, v.allValue])).toEqual([
    ["site", false, true, ".*"],
    ["device", true, true, ".*"],
  ]);
});

test("fleet scale (docs/PERFORMANCE.md): a fleet's time series are aggregated across devices and their intervals widen with the fleet; a per-device table is limited", () => {
  for (const devices of [5, 1_000, 10_000, 100_000]) {
    const built = dashboardObjects({ ...OPTIONS, devices });
    for (const d of [built["fleet-overview.json"], built["pipeline-health.json"]]) {
      for (const panel of panelsOf(d) as Array<PanelJson & { maxDataPoints?: number }>) {
        const query = panel.targets[0].query;
        // a time series over every device of the selection: rows from storage = devices × intervals
        if (panel.type === "timeseries" && query.includes(`r._measurement == "${OPTIONS.measurement}"`)) {
          expect({ devices, panel: panel.title, maxDataPoints: panel.maxDataPoints }).toEqual({ devices, panel: panel.title, maxDataPoints: fleetMaxDataPoints({ ...OPTIONS, devices }) });
          expect(devices * fleetMaxDataPoints({ ...OPTIONS, devices })).toBeLessThanOrEqual(Math.max(FLEET_ROWS_BUDGET, devices * 24));
          // one series per statistic (or one in all), never one per device
          expect({ panel: panel.title, perDevice: /keep\(columns: \[[^\]]*"device"/.test(query) && !query.includes('group(columns: ["stat"])') }).toEqual({ panel: panel.title, perDevice: false });
        }
        if (panel.type === "table" && query.includes("device")) expect({ panel: panel.title, limited: query.includes(`limit(n: ${DEVICE_TABLE_ROWS})`) }).toEqual({ panel: panel.title, limited: true });
      }
    }
  }
  const fields = panelsOf(dashboardObjects(OPTIONS)["fleet-overview.json"]).slice(4);
  for (const p of fields) for (const stat of ["lowest device", "fleet mean", "highest device"]) expect(p.targets[0].query).toContain(`value: "${stat}"`);
});

test("device detail: one device, last seen, min/mean/max of every field, every field over time, the fault episodes", () => {
  const d = built["device-detail.json"];
  const device = d.templating.list!.find((v) => v.name === "device")!;
  expect([device.multi, device.includeAll]).toEqual([false, false]);
  const titles = panelsOf(d).map((p) => p.title);
  expect(titles.slice(0, 4)).toEqual(["Last seen", "Dropouts", "Stuck readings", "Temperature jumps > 5 °C"]);
  for (const field of Object.keys(READING_FIELDS)) {
    const withField = panelsOf(d).filter((p) => usesOf(p.targets[0].query).fields.includes(field));
    // its min / mean / max and its time series, at least
    expect({ field, panels: withField.length >= 2 }).toEqual({ field, panels: true });
  }
  // dropouts are gaps longer than 1.5 intervals (3 s here)
  expect(panelsOf(d)[1].targets[0].query).toContain("r.elapsed > 3000");
  expect(panelsOf(d).find((p) => p.title === "Longest gap between readings")?.fieldConfig.defaults.thresholds?.steps.at(-1)).toEqual({ value: 3, color: "red" });
});

test("pipeline health: freshness per device, points per minute, and every simulator counter", () => {
  const d = built["pipeline-health.json"];
  const queries = dashboardQueries(d).map((q) => q.query);
  const metricsFieldsUsed = new Set(queries.flatMap((q) => (q.includes('r._measurement == "simulator"') ? usesOf(q).fields : [])));
  expect([...metricsFieldsUsed].sort()).toEqual(
    ["buffer_capacity_lines", "buffer_lines", "metrics_dropped", "metrics_written", "points_dropped", "points_generated", "points_written", "write_retries"].sort(),
  );
  expect(panelsOf(d).map((p) => p.title)).toEqual(
    expect.arrayContaining(["Data freshness per device", "Points per minute", "Simulator counters", "Simulator throughput", "Write retries per minute", "Buffer fill"]),
  );
});

test("the options come from the stack settings: configured devices, interval, alert thresholds", () => {
  const prod = dashboardOptions(loadSettings(stackConfig("prod"), "prod"));
  expect(prod).toMatchObject({ datasourceUid: DATASOURCE_UID, bucket: "sensors", measurement: "environment", devices: 500, intervalMs: 1000 });
  const fleet = JSON.parse(buildDashboards(prod)["fleet-overview.json"]);
  expect(fleet.panels[0].title).toBe("Devices reporting (of 500 configured)");
});

test("buildDashboards: file name to JSON, deterministic, equal to the built objects", () => {
  const files = buildDashboards(OPTIONS);
  expect(buildDashboards(OPTIONS)).toEqual(files);
  for (const [name, json] of Object.entries(files)) expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(built[name as keyof typeof built])));
});
