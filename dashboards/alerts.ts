// Grafana-managed alert rules over the same data as the dashboards: a silent device, devices not
// reporting, a reading outside its range, a low battery, the simulator dropping points.
//
// Each rule is built with the SDK's alerting builders (a Flux query A, a reduce B, a threshold C),
// then written in the shape of Grafana's alerting provisioning files (apiVersion 1: groups with
// orgId, name, folder, interval; rules with uid, title, condition, data, noDataState, execErrState,
// for, labels, annotations; pkg/services/provisioning/alerting in Grafana). The SDK's own Rule is
// the HTTP API's shape (orgID, folderUID, ruleGroup), which the file provisioner does not read.
import * as alerting from "@grafana/grafana-foundation-sdk/alerting";
import type * as common from "@grafana/grafana-foundation-sdk/common";
import * as expr from "@grafana/grafana-foundation-sdk/expr";
import { ALERT_FOLDER } from "../components/grafana-provisioning";
import type { ReadingField } from "../simulator/src/schema";
import { FluxQueryBuilder } from "./flux-query";
import { type DashboardOptions, silentMs } from "./options";
import { FIELD_VIEWS } from "./panels";
import { NONE, counterIncrease, devicesReporting, latestValue, secondsSinceLastPoint } from "./queries";

/** One query of a provisioned rule. */
export interface ProvisionedQuery {
  refId: string;
  /** seconds before the evaluation time: the query's v.timeRangeStart and v.timeRangeStop */
  relativeTimeRange: { from: number; to: number };
  datasourceUid: string;
  /** for the InfluxDB datasource `{refId, query, datasource}` with Flux in `query`; for expressions Grafana's expression model */
  model: Record<string, unknown>;
}

export interface ProvisionedRule {
  uid: string;
  title: string;
  condition: string;
  data: ProvisionedQuery[];
  noDataState: "OK" | "Alerting" | "NoData" | "KeepLast";
  execErrState: "OK" | "Alerting" | "Error" | "KeepLast";
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  isPaused: boolean;
}

export interface ProvisionedRuleGroup {
  orgId: number;
  name: string;
  /** folder title (the alert rules' own folder, components/grafana-provisioning.ts ALERT_FOLDER) */
  folder: string;
  interval: string;
  rules: ProvisionedRule[];
}

/**
 * Uids of rules this program provisioned once and no longer does. Grafana keeps a provisioned rule
 * that a file stops listing, so a rule removed from buildAlertRules moves its uid here, and every
 * start deletes it (deleteRules; a no-op once it is gone). A uid here must never be reused.
 */
export const RETIRED_RULE_UIDS: readonly string[] = [];

/** The rule group's evaluation interval: every rule looks at the data once a minute. */
export const EVALUATION_INTERVAL = "1m";
/** The window in which dropped points are counted; several metrics lines fall into it. */
export const DROPPED_WINDOW_SECONDS = 300;

const EXPRESSIONS = "__expr__";
const EXPRESSION_DATASOURCE: common.DataSourceRef = { type: EXPRESSIONS, uid: EXPRESSIONS };

type ThresholdType = "gt" | "lt" | "outside_range";

interface RuleSpec {
  uid: string;
  title: string;
  flux: string;
  /** how far back query A reads, in seconds */
  lookbackSeconds: number;
  threshold: { type: ThresholdType; params: number[] };
  for: string;
  /** what no data at all means for this rule */
  noData: "OK" | "Alerting";
  severity: "critical" | "warning";
  summary: string;
  description: string;
}

/**
 * Query A (Flux, over `lookbackSeconds`), B = last value of each series of A, C = threshold on B,
 * the condition. One alert instance per series (per device, or per site for the simulator).
 */
function rule(o: DashboardOptions, spec: RuleSpec): alerting.RuleBuilder {
  const query = new alerting.QueryBuilder("A")
    .datasourceUid(o.datasourceUid)
    .relativeTimeRange({ from: spec.lookbackSeconds, to: 0 })
    .model(new FluxQueryBuilder("A", spec.flux).datasource({ type: "influxdb", uid: o.datasourceUid }));
  const reduce = new alerting.QueryBuilder("B")
    .datasourceUid(EXPRESSIONS)
    .relativeTimeRange({ from: 0, to: 0 })
    .model(new expr.TypeReduceBuilder().refId("B").datasource(EXPRESSION_DATASOURCE).expression("A").reducer("last").settings({ mode: "dropNN" }));
  const threshold = new alerting.QueryBuilder("C")
    .datasourceUid(EXPRESSIONS)
    .relativeTimeRange({ from: 0, to: 0 })
    .model(
      new expr.TypeThresholdBuilder()
        .refId("C")
        .datasource(EXPRESSION_DATASOURCE)
        .expression("B")
        .conditions([{ evaluator: { type: spec.threshold.type, params: spec.threshold.params } }]),
    );
  return new alerting.RuleBuilder(spec.title)
    .uid(spec.uid)
    .queries([query, reduce, threshold])
    .condition("C")
    .forDuration(spec.for)
    .noDataState(spec.noData)
    // a failing query is shown as an error (and Grafana raises its DatasourceError alert)
    .execErrState("Error")
    .labels({ severity: spec.severity })
    .annotations({ summary: spec.summary, description: spec.description })
    .isPaused(false);
}

/** The SDK's rule in the file provisioner's shape; JSON round trip drops the SDK's marker functions. */
function provisioned(builder: alerting.RuleBuilder): ProvisionedRule {
  const r = builder.build();
  const data = JSON.parse(JSON.stringify(r.data)) as alerting.Query[];
  return {
    uid: r.uid as string,
    title: r.title,
    condition: r.condition,
    data: data.map((q) => ({
      refId: q.refId as string,
      relativeTimeRange: { from: q.relativeTimeRange?.from ?? 0, to: q.relativeTimeRange?.to ?? 0 },
      datasourceUid: q.datasourceUid as string,
      model: q.model as unknown as Record<string, unknown>,
    })),
    noDataState: r.noDataState,
    execErrState: r.execErrState,
    for: r.for,
    labels: r.labels ?? {},
    annotations: r.annotations ?? {},
    isPaused: r.isPaused ?? false,
  };
}

function rangeRule(o: DashboardOptions, field: ReadingField & keyof DashboardOptions["ranges"], uid: string): RuleSpec {
  const view = FIELD_VIEWS[field];
  const { min, max } = o.ranges[field];
  const unit = field === "temperature_c" ? "°C" : "%";
  return {
    uid,
    title: `${view.title} out of range`,
    flux: latestValue(o, field, NONE),
    // the last reading of every device: a few intervals, at least five minutes
    lookbackSeconds: Math.max(300, Math.ceil((3 * o.intervalMs) / 1000)),
    threshold: { type: "outside_range", params: [min, max] },
    for: `${o.outOfRangeMinutes}m`,
    noData: "OK",
    severity: "warning",
    summary: `${view.title} of {{ $labels.device }} outside ${min}–${max} ${unit}`,
    description: `{{ $labels.device }} at {{ $labels.site }} has read {{ $values.B.Value }} ${unit} for ${o.outOfRangeMinutes} min or more (normal range ${min}–${max} ${unit}).`,
  };
}

/**
 * The provisioned alert rules, as rule groups of Grafana's alerting provisioning file. Every
 * query A is Flux in `data[].model.query`, bounded by v.timeRangeStart/v.timeRangeStop, which
 * Grafana sets from the query's relativeTimeRange.
 */
export function buildAlertRules(o: DashboardOptions): ProvisionedRuleGroup[] {
  const silentSeconds = silentMs(o) / 1000;
  // A device silent for longer than this drops out of the per-device rule; "Devices not reporting"
  // still counts it. At least an hour, so that a silent device stays named for a while.
  const lookback = Math.max(3600, Math.ceil(4 * silentSeconds));
  const specs: RuleSpec[] = [
    {
      uid: "iot-device-silent",
      title: "Device silent",
      flux: secondsSinceLastPoint(o, NONE),
      lookbackSeconds: lookback,
      threshold: { type: "gt", params: [silentSeconds] },
      for: "0s",
      // nothing from any device in the lookback: the whole fleet is silent
      noData: "Alerting",
      severity: "critical",
      summary: "{{ $labels.device }} at {{ $labels.site }} is silent",
      description: `{{ $labels.device }} sent its last point {{ humanizeDuration $values.B.Value }} ago; a device is silent after ${o.silentIntervals} intervals (${silentSeconds} s).`,
    },
    {
      uid: "iot-devices-not-reporting",
      title: "Devices not reporting",
      flux: devicesReporting(o, NONE),
      lookbackSeconds: lookback,
      threshold: { type: "lt", params: [o.devices] },
      for: "0s",
      noData: "Alerting",
      severity: "critical",
      summary: `{{ $values.B.Value }} of ${o.devices} devices reporting`,
      description: `Fewer devices than the ${o.devices} configured sent a point in the last ${o.silentIntervals} intervals (${silentSeconds} s); the fleet overview lists the silent ones.`,
    },
    rangeRule(o, "temperature_c", "iot-temperature-out-of-range"),
    rangeRule(o, "humidity_pct", "iot-humidity-out-of-range"),
    {
      uid: "iot-battery-low",
      title: "Battery low",
      flux: latestValue(o, "battery_pct", NONE),
      lookbackSeconds: Math.max(300, Math.ceil((3 * o.intervalMs) / 1000)),
      threshold: { type: "lt", params: [o.batteryMinPct] },
      for: "0s",
      noData: "OK",
      severity: "warning",
      summary: "Battery of {{ $labels.device }} below " + `${o.batteryMinPct} %`,
      description: `{{ $labels.device }} at {{ $labels.site }} reports {{ $values.B.Value }} % battery (threshold ${o.batteryMinPct} %).`,
    },
    {
      uid: "iot-simulator-dropping-points",
      title: "Simulator dropping points",
      flux: counterIncrease(o, "points_dropped", NONE),
      lookbackSeconds: DROPPED_WINDOW_SECONDS,
      threshold: { type: "gt", params: [o.droppedPointsMax] },
      for: "0s",
      // no metrics lines at all: the silence rules report that
      noData: "OK",
      severity: "critical",
      summary: "The simulator at {{ $labels.site }} is dropping points",
      description: `{{ $values.B.Value }} readings dropped in the last ${DROPPED_WINDOW_SECONDS / 60} min (allowed: ${o.droppedPointsMax}); the simulator's log names the reason for each.`,
    },
  ];
  return [
    {
      orgId: 1,
      name: "iot",
      folder: ALERT_FOLDER,
      interval: EVALUATION_INTERVAL,
      rules: specs.map((spec) => provisioned(rule(o, spec))),
    },
  ];
}
