import { buildDashboards } from ".";
import { FLEET_OVERVIEW_UID, fieldOverTime, fleetOverviewDashboard } from "./fleet-overview";

const options = { datasourceUid: "influxdb-iot", bucket: "sensors", measurement: "environment" };

test("the fleet overview: one uid, read-only, panels for every quantity, all on the provisioned datasource", () => {
  const dashboard = fleetOverviewDashboard(options);
  expect(dashboard.uid).toBe(FLEET_OVERVIEW_UID);
  expect(dashboard.editable).toBe(false);
  const panels = (dashboard.panels ?? []) as unknown as Array<{ title: string; type: string; datasource: { uid: string }; targets: Array<{ query: string; datasource: { uid: string } }> }>;
  expect(panels.map((p) => p.title)).toEqual(["Devices reporting", "Lowest battery", "Temperature", "Relative humidity", "Pressure", "Signal strength"]);
  for (const panel of panels) {
    expect(panel.datasource.uid).toBe("influxdb-iot");
    expect(panel.targets).toHaveLength(1);
    expect(panel.targets[0].datasource.uid).toBe("influxdb-iot");
    expect(panel.targets[0].query).toMatch(/^from\(bucket: "sensors"\)/);
    expect(panel.targets[0].query).toMatch(/r\._measurement == "environment"/);
  }
  expect(panels[0].targets[0].query).toMatch(/last\(\)\n {2}\|> group\(\)\n {2}\|> count\(\)$/);
  expect(panels[1].targets[0].query).toMatch(/last\(\)\n {2}\|> group\(\)\n {2}\|> min\(\)$/);
  const fields = panels.filter((p) => p.type === "timeseries").map((p) => /r\._field == "([a-z_]+)"/.exec(p.targets[0].query)?.[1]);
  expect(fields).toEqual(["temperature_c", "humidity_pct", "pressure_hpa", "rssi_dbm"]);
});

test("Flux uses the panel's time range and interval, and quotes names", () => {
  const query = fieldOverTime({ ...options, bucket: "my.bucket" }, "temperature_c");
  expect(query).toContain('from(bucket: "my.bucket")');
  expect(query).toContain("range(start: v.timeRangeStart, stop: v.timeRangeStop)");
  expect(query).toContain("aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)");
});

test("buildDashboards gives file name to JSON, deterministic", () => {
  const a = buildDashboards(options);
  expect(Object.keys(a)).toEqual(["fleet-overview.json"]);
  expect(JSON.parse(a["fleet-overview.json"]).title).toBe("IoT fleet overview");
  expect(buildDashboards(options)).toEqual(a);
});
