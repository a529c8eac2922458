// One device in detail: when it was last heard from, every field over time with its range, the
// minimum, mean and maximum over the range, and the fault episodes the simulator models
// (simulator/src/signal-model.ts): temperature spikes, stuck readings and radio dropouts.
// Classic dashboard model, for the reason given in fleet-overview.ts.
import * as common from "@grafana/grafana-foundation-sdk/common";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import * as units from "@grafana/grafana-foundation-sdk/units";
import type { ReadingField } from "../simulator/src/schema";
import { type DashboardOptions, dropoutGapMs, silentMs } from "./options";
import { ANY_IS_NOTABLE, FIELD_ORDER, FIELD_VIEWS, datasourceRef, fluxTarget, iotDashboard, numberPanels, thresholds } from "./panels";
import {
  type Selection,
  fieldEnvelope,
  fieldSummary,
  freshnessPerDevice,
  gapsLongerThan,
  jumpsLargerThan,
  largestJump,
  longestGap,
  repeatedReadings,
  repeatedReadingsTotal,
} from "./queries";

export const DEVICE_DETAIL_UID = "iot-device-detail";

const DEVICE: Selection = { site: "site", device: "device" };

/**
 * A change of temperature between two readings larger than this is a spike: the signal model's
 * spikes are 8 to 20 °C, while noise and the daily cycle move a reading by well under 1 °C.
 */
export const SPIKE_JUMP_C = 5;

function statPanel(o: DashboardOptions, title: string, description: string, query: string) {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(datasourceRef(o))
    .withTarget(fluxTarget(o, query))
    .height(4)
    .span(6);
}

function lastSeenPanel(o: DashboardOptions) {
  return statPanel(o, "Last seen", `Time from the device's last point to the end of the range; red once it is silent (${o.silentIntervals} intervals).`, freshnessPerDevice(o, DEVICE))
    .unit(units.Seconds)
    .thresholds(thresholds("green", [silentMs(o) / 1000, "red"]))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).fields("silent_for"))
    .colorMode(common.BigValueColorMode.Background);
}

function faultCountPanel(o: DashboardOptions, title: string, description: string, query: string) {
  return statPanel(o, title, description, query).unit(units.Short).noValue("0").thresholds(ANY_IS_NOTABLE()).colorMode(common.BigValueColorMode.Background);
}

function summaryPanel(o: DashboardOptions, field: ReadingField, span: number) {
  const view = FIELD_VIEWS[field];
  return new stat.PanelBuilder()
    .title(`${view.title}: min / mean / max`)
    .description(`Lowest, mean and highest ${view.title.toLowerCase()} over the whole range, from every reading (not downsampled).`)
    .unit(view.unit)
    .decimals(1)
    .thresholds(view.thresholds(o))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .textMode(common.BigValueTextMode.ValueAndName)
    .graphMode(common.BigValueGraphMode.None)
    .height(4)
    .span(span)
    .datasource(datasourceRef(o))
    .withTarget(fluxTarget(o, fieldSummary(o, field, DEVICE)));
}

function seriesPanel(o: DashboardOptions, title: string, description: string, query: string) {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .height(8)
    .span(12)
    .datasource(datasourceRef(o))
    .withTarget(fluxTarget(o, query));
}

function fieldPanel(o: DashboardOptions, field: ReadingField) {
  const view = FIELD_VIEWS[field];
  return seriesPanel(o, view.title, `${view.title}: minimum, mean and maximum per panel interval. A spike shows in the minimum or maximum, a stuck sensor as all three on one flat line.`, fieldEnvelope(o, field, DEVICE))
    .unit(view.unit)
    .thresholds(view.thresholds(o))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
    .displayName("${__field.labels.stat}")
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true));
}

export function deviceDetailDashboard(o: DashboardOptions): Dashboard {
  const gapS = dropoutGapMs(o) / 1000;
  const builder = iotDashboard(o, {
    title: "IoT device detail",
    uid: DEVICE_DETAIL_UID,
    description: "One device: last seen, every field with its range, and the fault episodes.",
    from: "now-6h",
    device: { multi: false, includeAll: false },
  })
    // first row: last seen and the fault episodes in the range
    .withPanel(lastSeenPanel(o))
    .withPanel(
      faultCountPanel(o, "Dropouts", `Gaps between two readings longer than ${gapS} s (1.5 intervals): the device sent nothing for a while.`, gapsLongerThan(o, dropoutGapMs(o), DEVICE)),
    )
    .withPanel(faultCountPanel(o, "Stuck readings", "Temperature readings equal to the one before: a stuck sensor repeats its value; live readings never repeat exactly.", repeatedReadingsTotal(o, "temperature_c", DEVICE)))
    .withPanel(faultCountPanel(o, `Temperature jumps > ${SPIKE_JUMP_C} °C`, "Changes between two readings larger than a spike's smallest size allows for: each spike is a jump out and one back.", jumpsLargerThan(o, "temperature_c", SPIKE_JUMP_C, DEVICE)));
  // second row: min / mean / max of each field, widths 5+5+5+5+4
  FIELD_ORDER.forEach((field, index) => builder.withPanel(summaryPanel(o, field, index < 4 ? 5 : 4)));
  // then every field over time, two per row
  for (const field of FIELD_ORDER) builder.withPanel(fieldPanel(o, field));
  builder
    .withPanel(
      seriesPanel(o, "Longest gap between readings", `Longest time between two readings per panel interval; one interval (${o.intervalMs / 1000} s) is normal, a dropout shows as several.`, longestGap(o, DEVICE))
        .unit(units.Seconds)
        .thresholds(thresholds("green", [gapS, "red"]))
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
        .displayName("longest gap"),
    )
    .withPanel(
      seriesPanel(o, "Repeated temperature readings", "Temperature readings equal to the one before, per panel interval: a stuck-sensor episode.", repeatedReadings(o, "temperature_c", DEVICE))
        .unit(units.Short)
        .thresholds(ANY_IS_NOTABLE())
        .drawStyle(common.GraphDrawStyle.Bars)
        .displayName("repeated readings"),
    )
    .withPanel(
      seriesPanel(o, "Largest temperature jump", `Largest change between two temperature readings per panel interval; above ${SPIKE_JUMP_C} °C is a spike.`, largestJump(o, "temperature_c", DEVICE))
        .unit(units.Celsius)
        .thresholds(thresholds("green", [SPIKE_JUMP_C, "red"]))
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
        .displayName("largest jump"),
    );
  return numberPanels(builder.build());
}
