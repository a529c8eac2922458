// Pieces shared by the three dashboards: the datasource reference, thresholds, each reading
// field's title, unit and thresholds, the site and device variables, and the final numbering.
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as units from "@grafana/grafana-foundation-sdk/units";
import type { ReadingField } from "../simulator/src/schema";
import { FluxQueryBuilder } from "./flux-query";
import type { DashboardOptions } from "./options";
import { tagValues, type Selection } from "./queries";

export function datasourceRef(o: DashboardOptions): common.DataSourceRef {
  return { type: "influxdb", uid: o.datasourceUid };
}

export function fluxTarget(o: DashboardOptions, query: string, refId = "A"): FluxQueryBuilder {
  return new FluxQueryBuilder(refId, query).datasource(datasourceRef(o));
}

/** Absolute thresholds: the base colour below the first step, then each [from, colour]. */
export function thresholds(base: string, ...steps: Array<[number, string]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/**
 * Rows a fleet-wide time-series query may hand from storage to Flux: one per device and panel
 * interval (each device's points are aggregated per interval in storage, the cheap part); grouping
 * them across the fleet is the cost that grows with the fleet (docs/PERFORMANCE.md, "Dashboards and
 * alert queries at fleet scale").
 */
export const FLEET_ROWS_BUDGET = 50_000;
/** Fewer points than this would make a day's chart a handful of steps. */
const FLEET_MIN_DATA_POINTS = 24;

/**
 * A fleet panel's max data points: the configured fleet times the intervals stays within
 * FLEET_ROWS_BUDGET, so Grafana widens the interval (v.windowPeriod) for a large fleet
 * instead of the query growing with it; never more than Grafana's own default (the panel's width).
 */
export function fleetMaxDataPoints(o: DashboardOptions): number {
  return Math.max(FLEET_MIN_DATA_POINTS, Math.min(1920, Math.floor(FLEET_ROWS_BUDGET / Math.max(1, o.devices))));
}

/** Counts of fault episodes and dropped points: any at all deserves a look. */
export const ANY_IS_NOTABLE = () => thresholds("green", [1, "orange"]);

// Signal strength has no alert, so these bands are for the eye only: below -85 dBm links
// commonly lose packets, below -75 dBm they are fair. The simulator's devices sit at -45 to -85 dBm.
const RSSI_POOR_DBM = -85;
const RSSI_FAIR_DBM = -75;

export interface FieldView {
  title: string;
  unit: string;
  thresholds(o: DashboardOptions): dashboard.ThresholdsConfigBuilder;
}

/** How each reading field is shown: exhaustive over the schema's fields, so a new field must be given a view. */
export const FIELD_VIEWS: Record<ReadingField, FieldView> = {
  temperature_c: {
    title: "Temperature",
    unit: units.Celsius,
    thresholds: (o) => thresholds("blue", [o.ranges.temperature_c.min, "green"], [o.ranges.temperature_c.max, "red"]),
  },
  humidity_pct: {
    title: "Relative humidity",
    unit: units.Humidity,
    thresholds: (o) => thresholds("orange", [o.ranges.humidity_pct.min, "green"], [o.ranges.humidity_pct.max, "blue"]),
  },
  pressure_hpa: {
    title: "Air pressure",
    unit: units.Hectopascals,
    // no configured range: every value is normal
    thresholds: () => thresholds("green"),
  },
  battery_pct: {
    title: "Battery",
    unit: units.Percent,
    thresholds: (o) => thresholds("red", [o.batteryMinPct, "green"]),
  },
  rssi_dbm: {
    title: "Signal strength",
    unit: units.DecibelMilliWatt,
    thresholds: () => thresholds("red", [RSSI_POOR_DBM, "orange"], [RSSI_FAIR_DBM, "green"]),
  },
};

/** The order fields are shown in. */
export const FIELD_ORDER: readonly ReadingField[] = ["temperature_c", "humidity_pct", "pressure_hpa", "rssi_dbm", "battery_pct"];

/** A query variable over one tag's values in the range, refreshed when the range changes. */
export function tagVariable(
  o: DashboardOptions,
  tag: "site" | "device",
  options: { label: string; multi: boolean; includeAll: boolean; narrowedBy: Selection },
): dashboard.QueryVariableBuilder {
  const query = tagValues(o, tag, options.narrowedBy);
  const variable = new dashboard.QueryVariableBuilder(tag)
    .label(options.label)
    .datasource(datasourceRef(o))
    // the form Grafana's InfluxDB variable editor saves: the Flux text under `query`
    .query({ refId: "InfluxVariableQueryEditor-VariableQuery", query })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(options.multi)
    .includeAll(options.includeAll);
  // `.*` for All keeps the query short for a large fleet (instead of every name joined)
  if (options.includeAll) variable.allValue(".*").current({ text: "All", value: "$__all" });
  return variable;
}

/**
 * Grafana's built-in "Annotations & Alerts" query, which marks alert state changes (and annotations)
 * on the panels: the entry Grafana itself puts first when a dashboard lacks one
 * (apps/dashboard/pkg/migration/frontend_defaults.go addBuiltInAnnotationQuery, and
 * public/app/features/dashboard/state/DashboardModel.ts). Stated in the file, so that what is
 * provisioned is what Grafana shows, whatever path the JSON takes to the browser.
 */
export function builtInAnnotations(): cog.Builder<dashboard.AnnotationQuery> {
  // Grafana's entry as it is: the SDK's AnnotationQueryBuilder would add a `placement` it lacks.
  return {
    build: () => ({
      builtIn: 1,
      datasource: { type: "grafana", uid: "-- Grafana --" },
      enable: true,
      hide: true,
      iconColor: "rgba(0, 211, 255, 1)",
      name: "Annotations & Alerts",
      type: "dashboard",
    }),
  };
}

/**
 * The frame every IoT dashboard shares: generated and read-only, refreshed every 30 s, the browser's
 * time zone, a shared crosshair, alert state on the panels, and the site and device variables (the
 * device narrowed by site).
 */
export function iotDashboard(
  o: DashboardOptions,
  d: { title: string; uid: string; description: string; from: string; device: { multi: boolean; includeAll: boolean } },
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(d.title)
    .uid(d.uid)
    .description(d.description)
    .tags(["iot", "generated"])
    .readonly()
    .refresh("30s")
    .time({ from: d.from, to: "now" })
    .timezone("browser")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .annotation(builtInAnnotations())
    .withVariable(tagVariable(o, "site", { label: "Site", multi: false, includeAll: true, narrowedBy: {} }))
    .withVariable(tagVariable(o, "device", { label: "Device", ...d.device, narrowedBy: { site: "site" } }));
}

/** Panels get ids 1, 2, … in the order they were added: stable, so links and alerts can name them. */
export function numberPanels(d: dashboard.Dashboard): dashboard.Dashboard {
  (d.panels ?? []).forEach((panel, index) => {
    panel.id = index + 1;
  });
  return d;
}
