// The fleet overview dashboard, built with grafana-foundation-sdk (dashboards as code).
import { DashboardBuilder, DashboardCursorSync } from "@grafana/grafana-foundation-sdk/dashboard";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { FluxQueryBuilder, fluxString } from "./flux-query";

export interface FleetDashboardOptions {
  datasourceUid: string;
  bucket: string;
  measurement: string;
}

export const FLEET_OVERVIEW_UID = "iot-fleet-overview";

/** One field of every device over time, averaged per panel interval. */
export function fieldOverTime(o: FleetDashboardOptions, field: string): string {
  return [
    `from(bucket: ${fluxString(o.bucket)})`,
    "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
    `  |> filter(fn: (r) => r._measurement == ${fluxString(o.measurement)} and r._field == ${fluxString(field)})`,
    '  |> keep(columns: ["_time", "_value", "device"])',
    "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)",
  ].join("\n");
}

/**
 * Each device's latest battery level in the selected range, reduced over the fleet:
 * count() gives the devices reporting, min() the lowest battery.
 */
export function latestBatteryAcrossFleet(o: FleetDashboardOptions, reduce: "count" | "min"): string {
  return [
    `from(bucket: ${fluxString(o.bucket)})`,
    "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
    `  |> filter(fn: (r) => r._measurement == ${fluxString(o.measurement)} and r._field == "battery_pct")`,
    "  |> last()",
    "  |> group()",
    `  |> ${reduce}()`,
  ].join("\n");
}

function seriesPanel(o: FleetDashboardOptions, title: string, field: string, unit: string) {
  return new timeseries.PanelBuilder()
    .title(title)
    .unit(unit)
    .height(8)
    .span(12)
    .datasource({ type: "influxdb", uid: o.datasourceUid })
    .withTarget(new FluxQueryBuilder("A", fieldOverTime(o, field)).datasource({ type: "influxdb", uid: o.datasourceUid }));
}

function statPanel(o: FleetDashboardOptions, title: string, query: string, unit: string) {
  return new stat.PanelBuilder()
    .title(title)
    .unit(unit)
    .height(4)
    .span(6)
    .datasource({ type: "influxdb", uid: o.datasourceUid })
    .withTarget(new FluxQueryBuilder("A", query).datasource({ type: "influxdb", uid: o.datasourceUid }));
}

export function fleetOverviewDashboard(o: FleetDashboardOptions): Dashboard {
  return new DashboardBuilder("IoT fleet overview")
    .uid(FLEET_OVERVIEW_UID)
    .tags(["iot", "generated"])
    .editable()
    .readonly()
    .refresh("30s")
    .time({ from: "now-1h", to: "now" })
    .timezone("browser")
    .tooltip(DashboardCursorSync.Crosshair)
    .withPanel(statPanel(o, "Devices reporting", latestBatteryAcrossFleet(o, "count"), "none"))
    .withPanel(statPanel(o, "Lowest battery", latestBatteryAcrossFleet(o, "min"), "percent"))
    .withPanel(seriesPanel(o, "Temperature", "temperature_c", "celsius"))
    .withPanel(seriesPanel(o, "Relative humidity", "humidity_pct", "humidity"))
    .withPanel(seriesPanel(o, "Pressure", "pressure_hpa", "pressurehpa"))
    .withPanel(seriesPanel(o, "Signal strength", "rssi_dbm", "dBm"))
    .build();
}
