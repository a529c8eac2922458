// The write path's health: how fresh each device's data is, how fast points arrive, and the
// simulator's own counters (measurement METRICS_MEASUREMENT in simulator/src/schema.ts): points
// generated, written and dropped, write retries, and how full its buffer is.
// Classic dashboard model, for the reason given in fleet-overview.ts.
import * as common from "@grafana/grafana-foundation-sdk/common";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import * as units from "@grafana/grafana-foundation-sdk/units";
import type { MetricsField } from "../simulator/src/schema";
import { type DashboardOptions, silentMs } from "./options";
import { ANY_IS_NOTABLE, datasourceRef, fleetMaxDataPoints, fluxTarget, iotDashboard, numberPanels, thresholds } from "./panels";
import { DEVICE_TABLE_ROWS, FLEET, bufferFill, counterIncrease, counterRates, freshnessPerDevice, ingestRate, latestCounters } from "./queries";

export const PIPELINE_HEALTH_UID = "iot-pipeline-health";

/** The counters the totals panel shows, in this order. */
const TOTALS: readonly MetricsField[] = ["points_generated", "points_written", "points_dropped", "write_retries", "metrics_written", "metrics_dropped"];

// A buffer this full means InfluxDB has been slow or away for a while; when it is full the
// simulator stops generating (or, for its retry buffer, drops the oldest points).
const BUFFER_WARN_PCT = 50;
const BUFFER_CRITICAL_PCT = 80;

function dashed() {
  return new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed);
}

export function pipelineHealthDashboard(o: DashboardOptions): Dashboard {
  const expected = (o.devices * 60_000) / o.intervalMs;
  const builder = iotDashboard(o, {
    title: "IoT pipeline health",
    uid: PIPELINE_HEALTH_UID,
    description: "From the simulator to InfluxDB: freshness, ingest rate and the simulator's own counters.",
    from: "now-1h",
    device: { multi: true, includeAll: true },
  })
    .withPanel(
      new table.PanelBuilder()
        .title("Data freshness per device")
        .description(`Seconds from each device's last point to the end of the range, stalest first (at most ${DEVICE_TABLE_ROWS} devices); red beyond ${o.silentIntervals} intervals.`)
        .unit(units.Seconds)
        .thresholds(thresholds("green", [silentMs(o) / 1000, "red"]))
        .overrideByName("silent_for", [
          { id: "displayName", value: "age" },
          { id: "custom.cellOptions", value: { type: common.TableCellDisplayMode.ColorBackground } },
        ])
        .height(8)
        .span(8)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, freshnessPerDevice(o, FLEET))),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title("Points per minute")
        .description(`Readings arriving in InfluxDB per minute for the selection; ${expected} a minute with every device reporting.`)
        .unit(units.CountsPerMinute)
        .min(0)
        .displayName("points/min")
        .thresholds(thresholds("orange", [expected, "green"]))
        .thresholdsStyle(dashed())
        .height(8)
        .span(16)
        .maxDataPoints(fleetMaxDataPoints(o))
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, ingestRate(o, FLEET))),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title("Simulator counters")
        .description("The simulator's counters since it started (they restart from 0 with it): readings generated, written, dropped; write retries; its own metrics lines written and dropped.")
        .unit(units.Short)
        .thresholds(thresholds("green"))
        .overrideByRegexp(".*_dropped", [{ id: "thresholds", value: ANY_IS_NOTABLE().build() }])
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
        .textMode(common.BigValueTextMode.ValueAndName)
        .graphMode(common.BigValueGraphMode.None)
        .height(4)
        .span(16)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, latestCounters(o, TOTALS, FLEET))),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title("Points dropped in range")
        .description(`Readings the simulator gave up on within the range (each is also logged with its reason); the alert fires above ${o.droppedPointsMax} in five minutes.`)
        .unit(units.Short)
        .noValue("0")
        .thresholds(thresholds("green", [o.droppedPointsMax + 1, "red"]))
        .colorMode(common.BigValueColorMode.Background)
        .height(4)
        .span(8)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, counterIncrease(o, "points_dropped", FLEET))),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title("Simulator throughput")
        .description("Readings generated, written and dropped per minute, from the simulator's counters.")
        .unit(units.CountsPerMinute)
        .min(0)
        .thresholds(thresholds("green"))
        .overrideByName("points_dropped", [{ id: "color", value: { mode: "fixed", fixedColor: "red" } }])
        .displayName("${__field.labels._field}")
        .height(8)
        .span(12)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, counterRates(o, ["points_generated", "points_written", "points_dropped"], FLEET))),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title("Write retries per minute")
        .description("Failed write requests the client retries (InfluxDB slow, away or busy), per minute.")
        .unit(units.CountsPerMinute)
        .min(0)
        .thresholds(ANY_IS_NOTABLE())
        .thresholdsStyle(dashed())
        .displayName("retries/min")
        .height(8)
        .span(12)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, counterRates(o, ["write_retries"], FLEET))),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title("Buffer fill")
        .description("Readings handed to the client and not yet written or dropped, in percent of the simulator's cap (SIM_MAX_INFLIGHT_LINES), highest per panel interval.")
        .unit(units.Percent)
        .min(0)
        .max(100)
        .thresholds(thresholds("green", [BUFFER_WARN_PCT, "orange"], [BUFFER_CRITICAL_PCT, "red"]))
        .thresholdsStyle(dashed())
        .displayName("${__field.labels.site}")
        .height(8)
        .span(24)
        .datasource(datasourceRef(o))
        .withTarget(fluxTarget(o, bufferFill(o, FLEET))),
    );
  return numberPanels(builder.build());
}
