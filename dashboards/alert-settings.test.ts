// The alert settings (settings.ts, Pulumi.yaml): defaults that make sense for both shipped stacks,
// every bad value rejected with the key and what is allowed, all problems reported at once.
import { ConfigError, loadSettings } from "../settings";
import { stackConfig } from "../test/support/harness";

const problems = (overrides: Record<string, unknown>, stack = "dev"): string => {
  try {
    loadSettings(stackConfig(stack, overrides), stack);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected the configuration to be rejected");
};

test.each(["dev", "prod"])("%s: the defaults give a silent window the rules can honour and no contact point", (stack) => {
  const s = loadSettings(stackConfig(stack), stack);
  expect(s.alerts.webhookUrl).toBeUndefined();
  expect(s.alerts.temperatureC.min).toBeLessThan(s.alerts.temperatureC.max);
  expect(s.alerts.humidityPct.min).toBeLessThan(s.alerts.humidityPct.max);
  const silentMs = s.alerts.silentIntervals * s.simulator.intervalMs;
  expect(silentMs).toBeGreaterThanOrEqual(5000);
  expect(silentMs).toBeLessThanOrEqual(86_400_000);
});

test("values reach the typed settings", () => {
  const s = loadSettings(
    stackConfig("dev", {
      alertSilentIntervals: 7,
      alertOutOfRangeMinutes: 12,
      alertTemperatureMinC: -20,
      alertTemperatureMaxC: 45,
      alertHumidityMinPct: 5,
      alertHumidityMaxPct: 95,
      alertBatteryMinPct: 20,
      alertDroppedPointsMax: 100,
      alertWebhookUrl: "https://hooks.example.com/services/T000/B000/XXXXSECRET",
    }),
    "dev",
  );
  expect(s.alerts).toEqual({
    silentIntervals: 7,
    outOfRangeMinutes: 12,
    temperatureC: { min: -20, max: 45 },
    humidityPct: { min: 5, max: 95 },
    batteryMinPct: 20,
    droppedPointsMax: 100,
    webhookUrl: "https://hooks.example.com/services/T000/B000/XXXXSECRET",
  });
});

describe("bad values are rejected with the key and what is allowed", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["silent intervals below two", { alertSilentIntervals: 1 }, /alertSilentIntervals must be an integer from 2 to 1000/],
    ["minutes not a number", { alertOutOfRangeMinutes: "five" }, /alertOutOfRangeMinutes must be an integer from 1 to 1440/],
    ["fractional temperature", { alertTemperatureMinC: 0.5 }, /alertTemperatureMinC must be an integer from -100 to 200/],
    ["humidity above 100", { alertHumidityMaxPct: 101 }, /alertHumidityMaxPct must be an integer from 0 to 100/],
    ["battery at 0", { alertBatteryMinPct: 0 }, /alertBatteryMinPct must be an integer from 1 to 99/],
    ["negative drop allowance", { alertDroppedPointsMax: -1 }, /alertDroppedPointsMax must be an integer from 0 to 1000000000/],
    ["temperature range upside down", { alertTemperatureMinC: 30, alertTemperatureMaxC: 30 }, /alertTemperatureMinC must be less than alertTemperatureMaxC/],
    ["humidity range upside down", { alertHumidityMinPct: 80, alertHumidityMaxPct: 20 }, /alertHumidityMinPct must be less than alertHumidityMaxPct/],
    ["silent window too short", { simIntervalMs: 1000, alertSilentIntervals: 2 }, /alertSilentIntervals × simIntervalMs must be from 5000 to 86400000 ms .*not 2000/],
    ["silent window too long", { simIntervalMs: 3_600_000, alertSilentIntervals: 25 }, /alertSilentIntervals × simIntervalMs must be from 5000 to 86400000 ms/],
    ["webhook not a URL", { alertWebhookUrl: "hooks.example.com/x" }, /alertWebhookUrl must be empty \(no contact point\) or an https:\/\/ URL/],
    ["webhook with a $ Grafana would expand", { alertWebhookUrl: "https://hooks.example.com/$TOKEN" }, /alertWebhookUrl must be .* without "\$"/],
    ["webhook over plain http", { alertWebhookUrl: "http://hooks.example.com/x" }, /alertWebhookUrl must be an https:\/\/ URL \(http:\/\/ needs the explicit opt-out allowPlaintext=true\)/],
  ];
  test.each(cases)("%s", (_name, overrides, message) => {
    expect(problems(overrides)).toMatch(message);
  });

  test("every problem at once", () => {
    const message = problems({ alertBatteryMinPct: 100, alertOutOfRangeMinutes: 0, alertWebhookUrl: "ftp://x" });
    expect(message).toMatch(/alertBatteryMinPct/);
    expect(message).toMatch(/alertOutOfRangeMinutes/);
    expect(message).toMatch(/alertWebhookUrl/);
  });

  test("plain http only with the opt-out, and then with a warning", () => {
    const s = loadSettings(stackConfig("dev", { alertWebhookUrl: "http://receiver.lan:9000/hook", allowPlaintext: true }), "dev");
    expect(s.alerts.webhookUrl).toBe("http://receiver.lan:9000/hook");
    expect(s.warnings.join("\n")).toMatch(/alertWebhookUrl is plain http/);
  });
});
