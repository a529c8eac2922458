// The provisioned alert rules: in the shape Grafana's alerting file provisioner reads, each rule's
// condition and expressions naming queries that exist, thresholds equal to the configured values,
// every Flux query bounded by the rule's time range and using only what the simulator writes.
import { ALERT_FOLDER, DASHBOARD_FOLDER, DATASOURCE_UID } from "../components/grafana-provisioning";
import { UNUSUAL_OPTIONS } from "./test-support/options";
import { RETIRED_RULE_UIDS, buildAlertRules, type ProvisionedRule } from ".";
import { schemaProblems } from "./test-support/flux-inspect";

const OPTIONS = UNUSUAL_OPTIONS;

const groups = buildAlertRules(OPTIONS);
const rules = groups.flatMap((g) => g.rules);
const byUid = (uid: string) => rules.find((r) => r.uid === uid) as ProvisionedRule;
const threshold = (r: ProvisionedRule) => r.data.find((q) => q.refId === r.condition)!.model as { type: string; expression: string; conditions: Array<{ evaluator: { type: string; params: number[] } }> };
const fluxOf = (r: ProvisionedRule) => r.data.filter((q) => q.datasourceUid !== "__expr__").map((q) => q.model.query as string);

test("one group in the alert rules' own folder (not the dashboards'), evaluated every minute, with the file format's keys", () => {
  expect(groups).toHaveLength(1);
  expect(groups[0]).toMatchObject({ orgId: 1, name: "iot", folder: ALERT_FOLDER, interval: "1m" });
  expect(ALERT_FOLDER).not.toBe(DASHBOARD_FOLDER.title);
  for (const r of rules) {
    expect(Object.keys(r).sort()).toEqual(["annotations", "condition", "data", "execErrState", "for", "isPaused", "labels", "noDataState", "title", "uid"]);
    for (const q of r.data) expect(Object.keys(q).sort()).toEqual(["datasourceUid", "model", "refId", "relativeTimeRange"]);
  }
});

test("six rules (the silence concern has a per-device and a fleet rule), each with a stable, unique uid", () => {
  expect(rules.map((r) => r.uid)).toEqual([
    "iot-device-silent",
    "iot-devices-not-reporting",
    "iot-temperature-out-of-range",
    "iot-humidity-out-of-range",
    "iot-battery-low",
    "iot-simulator-dropping-points",
  ]);
  expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
  for (const r of rules) expect(r.uid.length).toBeLessThanOrEqual(40);
});

/** Every rule uid a release of this program has provisioned: each must stay provisioned or be retired. */
const SHIPPED_RULE_UIDS = [
  "iot-device-silent",
  "iot-devices-not-reporting",
  "iot-temperature-out-of-range",
  "iot-humidity-out-of-range",
  "iot-battery-low",
  "iot-simulator-dropping-points",
];

test("a rule removed from code is retired (Grafana keeps it otherwise), and no provisioned rule is retired (it would be deleted right after)", () => {
  const provisioned = rules.map((r) => r.uid);
  expect(SHIPPED_RULE_UIDS.filter((uid) => !provisioned.includes(uid) && !RETIRED_RULE_UIDS.includes(uid))).toEqual([]);
  expect(RETIRED_RULE_UIDS.filter((uid) => provisioned.includes(uid))).toEqual([]);
});

test.each(rules.map((r) => [r.uid, r] as const))("%s: condition and expressions reference existing queries, in order", (_uid, r) => {
  const refIds = r.data.map((q) => q.refId);
  expect(new Set(refIds).size).toBe(refIds.length);
  expect(refIds).toContain(r.condition);
  r.data.forEach((q, index) => {
    expect(q.model.refId).toBe(q.refId);
    if (q.datasourceUid === "__expr__") {
      // an expression reads a query defined before it
      expect(refIds.slice(0, index)).toContain(q.model.expression);
      expect(q.model.datasource).toEqual({ type: "__expr__", uid: "__expr__" });
    } else {
      expect(q.datasourceUid).toBe(DATASOURCE_UID);
      expect(q.model.datasource).toEqual({ type: "influxdb", uid: DATASOURCE_UID });
      expect(q.relativeTimeRange.from).toBeGreaterThan(0);
      expect(q.relativeTimeRange.to).toBe(0);
    }
  });
  expect(threshold(r).type).toBe("threshold");
});

test.each(rules.map((r) => [r.uid, r] as const))("%s: Flux from the configured bucket, bounded by the rule's range, no dashboard variables, only the schema's names", (_uid, r) => {
  const queries = fluxOf(r);
  expect(queries).toHaveLength(1);
  for (const query of queries) {
    expect(query.startsWith(`from(bucket: "${OPTIONS.bucket}")`) || query.includes(`\nfrom(bucket: "${OPTIONS.bucket}")`)).toBe(true);
    expect(query).toContain("range(start: v.timeRangeStart, stop: v.timeRangeStop)");
    expect(query).not.toContain("${");
    expect(schemaProblems(query, OPTIONS.measurement)).toEqual([]);
  }
});

test("thresholds and durations are the configured ones", () => {
  const silentSeconds = (OPTIONS.silentIntervals * OPTIONS.intervalMs) / 1000;
  const evaluator = (uid: string) => threshold(byUid(uid)).conditions[0].evaluator;
  expect(evaluator("iot-device-silent")).toEqual({ type: "gt", params: [silentSeconds] });
  expect(evaluator("iot-devices-not-reporting")).toEqual({ type: "lt", params: [OPTIONS.devices] });
  expect(evaluator("iot-temperature-out-of-range")).toEqual({ type: "outside_range", params: [-3, 41] });
  expect(evaluator("iot-humidity-out-of-range")).toEqual({ type: "outside_range", params: [12, 88] });
  expect(evaluator("iot-battery-low")).toEqual({ type: "lt", params: [OPTIONS.batteryMinPct] });
  expect(evaluator("iot-simulator-dropping-points")).toEqual({ type: "gt", params: [OPTIONS.droppedPointsMax] });
  expect(byUid("iot-temperature-out-of-range").for).toBe("9m");
  expect(byUid("iot-humidity-out-of-range").for).toBe("9m");
  // the count of reporting devices uses the same silent window as the dashboards
  expect(fluxOf(byUid("iot-devices-not-reporting"))[0]).toContain(`date.sub(d: ${OPTIONS.silentIntervals * OPTIONS.intervalMs}ms, from: v.timeRangeStop)`);
  // the silent rule looks back well beyond the silent window, so a silent device is still seen
  const lookback = byUid("iot-device-silent").data[0].relativeTimeRange.from;
  expect(lookback).toBeGreaterThanOrEqual(4 * silentSeconds);
});

test("each rule reads the field or counter it is about", () => {
  const fields = (uid: string) => [...fluxOf(byUid(uid))[0].matchAll(/r\._field == "([^"]+)"/g)].map((m) => m[1]);
  expect(fields("iot-temperature-out-of-range")).toEqual(["temperature_c"]);
  expect(fields("iot-humidity-out-of-range")).toEqual(["humidity_pct"]);
  expect(fields("iot-battery-low")).toEqual(["battery_pct"]);
  expect(fields("iot-simulator-dropping-points")).toEqual(["points_dropped"]);
  expect(fluxOf(byUid("iot-simulator-dropping-points"))[0]).toContain('r._measurement == "simulator"');
});

test("silence alerts without any data, the others stay OK (the silence rules report a silent fleet)", () => {
  expect(rules.filter((r) => r.noDataState === "Alerting").map((r) => r.uid)).toEqual(["iot-device-silent", "iot-devices-not-reporting"]);
  for (const r of rules) expect(r.execErrState).toBe("Error");
});

test("labels and titles hold no $, which Grafana's provisioning would expand; annotations may (they are read raw)", () => {
  for (const r of rules) {
    expect(r.title).not.toContain("$");
    for (const value of Object.values(r.labels)) expect(value).not.toContain("$");
    expect(r.annotations.summary.length).toBeGreaterThan(10);
  }
});
