// The tier's model of Grafana's query interpolation (support/grafana-interpolation.ts) against
// Grafana's own test vectors, so that the port is shown to say what the source says. Needs no server.
import {
  calculateIntervalMs,
  escapeRegex,
  fluxMacros,
  formatInterval,
  goDuration,
  goRfc3339Nano,
  influxVariableQueryFormat,
  interpolateVariables,
  parseRelativeTime,
  roundInterval,
  type VariableValue,
} from "./support/grafana-interpolation";

const variable = (name: string, value: string | string[], extra: Partial<VariableValue> = {}): VariableValue => ({ name, value, ...extra });

describe("the backend's Flux macros (pkg/tsdb/influxdb/flux/macros.go)", () => {
  test("macros_test.go TestInterpolate, word for word", () => {
    const before = "v.timeRangeStart, something.timeRangeStop, XYZ.bucket, uuUUu.defaultBucket, aBcDefG.organization, window.windowPeriod, a91{}.bucket";
    const after = '1970-01-01T00:00:00Z, 1970-01-01T00:00:00Z, "grafana2", "grafana3", "grafana1", 1s, a91{}.bucket';
    expect(fluxMacros(before, { from: new Date(0), to: new Date(0), intervalMs: 1000, organization: "grafana1", bucket: "grafana2", defaultBucket: "grafana3" })).toBe(after);
  });

  test("the bucket falls back to the datasource's default bucket; $__interval_ms before $__interval; an interval of 0 is 1 ms", () => {
    const c = { from: new Date(1500376552001), to: new Date(1500376612120), intervalMs: 90_000, organization: "iot", defaultBucket: "sensors" };
    expect(fluxMacros("from(bucket: v.bucket) |> range(start: v.timeRangeStart, stop: v.timeRangeStop)", c)).toBe('from(bucket: "sensors") |> range(start: 2017-07-18T11:15:52.001Z, stop: 2017-07-18T11:16:52.12Z)');
    expect(fluxMacros("every: v.windowPeriod, $__interval_ms ms = $__interval", c)).toBe("every: 1m30s, 90000 ms = 1m");
    expect(fluxMacros("v.windowPeriod", { ...c, intervalMs: 0 })).toBe("1ms");
  });

  test("Go's Duration.String, RFC3339Nano and gtime.FormatInterval", () => {
    expect([1, 200, 1000, 1500, 60_000, 90_000, 3_600_000, 86_400_000].map(goDuration)).toEqual(["1ms", "200ms", "1s", "1.5s", "1m0s", "1m30s", "1h0m0s", "24h0m0s"]);
    expect(goRfc3339Nano(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 600)))).toBe("2026-01-02T03:04:05.6Z");
    expect([1, 999, 1500, 90_000, 7_200_000, 2 * 86_400_000].map(formatInterval)).toEqual(["1ms", "999ms", "1s", "1m", "2h", "2d"]);
  });
});

describe("the frontend's interval (packages/grafana-data/src/datetime/rangeutil.ts)", () => {
  test("roundInterval steps and calculateInterval's low limit", () => {
    expect([5, 12, 3600, 7499, 7500, 60_000, 100_000].map(roundInterval)).toEqual([1, 10, 5000, 5000, 10_000, 60_000, 120_000]);
    // one hour over a 960-pixel panel: 3.75 s, rounded to 5 s; with a 10 s minimum, 10 s
    expect(calculateIntervalMs(0, 3_600_000, 960)).toBe(5000);
    expect(calculateIntervalMs(0, 3_600_000, 960, "10s")).toBe(10_000);
    expect(parseRelativeTime("now-1h", 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(() => parseRelativeTime("now/d", 0)).toThrow(/not modelled/);
  });
});

describe("template variables (grafana/scenes sceneInterpolator.ts, formatRegistry.ts)", () => {
  test("sceneInterpolator.test.ts: an All value with a custom allValue is not escaped, and may hold a variable", () => {
    expect(interpolateVariables("${test:regex}", { test: variable("test", ["a", "b"], { customAll: ".*" }) })).toBe(".*");
    expect(interpolateVariables("${test}", { test: variable("test", [], { customAll: "$other" }), other: variable("other", "hello") })).toBe("hello");
  });

  test("sceneInterpolator.test.ts: multi values use glob by default, text joins texts, queryparam, index field paths", () => {
    expect(interpolateVariables("test.${test}.asd", { test: variable("test", ["hello", "world"]) })).toBe("test.{hello,world}.asd");
    expect(interpolateVariables("test.${test.1}.asd", { test: variable("test", ["hello", "world"]) })).toBe("test.world.asd");
    expect(interpolateVariables("${test:text}", { test: variable("test", ["1", "2"], { text: ["hello", "world"] }) })).toBe("hello + world");
    expect(interpolateVariables("${test:queryparam}", { test: variable("test", "hello") })).toBe("var-test=hello");
  });

  test("sceneInterpolator.test.ts: unknown names and names on Object.prototype stay as they are", () => {
    expect(interpolateVariables("$toString = 1", {})).toBe("$toString = 1");
    expect(interpolateVariables("${namespace} $__interval", {})).toBe("${namespace} $__interval");
  });

  test("all three syntaxes, and an explicit format wins over the caller's", () => {
    const vars = { site: variable("site", "dev.bench"), device: variable("device", ["dev-000001", "dev/2"], { multi: true }) };
    expect(interpolateVariables("$site [[site]] [[site:regex]] ${site} ${site:regex}", vars)).toBe("dev.bench dev.bench dev\\.bench dev.bench dev\\.bench");
    expect(interpolateVariables("/^${device:regex}$/ ${device:pipe} ${device:csv} ${device:doublequote}", vars)).toBe('/^(dev-000001|dev\\/2)$/ dev-000001|dev/2 dev-000001,dev/2 "dev-000001","dev/2"');
    expect(interpolateVariables("${device:regex} $device", vars, "csv")).toBe("(dev-000001|dev\\/2) dev-000001,dev/2");
  });

  test("escapeRegex (packages/grafana-data/src/text/string.ts) and the InfluxDB datasource's interpolateQueryExpr for variable queries", () => {
    expect(escapeRegex("a.b*c/d$")).toBe("a\\.b\\*c\\/d\\$");
    expect(influxVariableQueryFormat("1.5", variable("n", "1.5"))).toBe("1.5");
    expect(influxVariableQueryFormat("a.b", variable("s", "a.b"))).toBe("a.b");
    expect(influxVariableQueryFormat("a.b", variable("s", "a.b", { multi: true }))).toBe("a\\.b");
    expect(influxVariableQueryFormat(["a.b", "c"], variable("s", ["a.b", "c"], { multi: true }))).toBe("(a\\.b|c)");
  });
});
