// SIM_TRANSPORT=mqtt: its settings, the identity directory and the payload, without a broker.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type MqttSimulatorConfig } from "../src/config";
import { Fleet } from "../src/fleet";
import { deviceMessage, readingsTopic } from "../src/mqtt-publisher";
import { createTestCa, type TestCa } from "./support/pki";
import { parseLine } from "./support/line-protocol";
import { baseEnv, startSimulator } from "./support/run-simulator";

let ca: TestCa;
let otherCa: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Test MQTT CA");
  otherCa = await createTestCa("Other CA");
});

/** A directory with the given files: `<id>.crt`/`<id>.key` are real identities issued to `issuedTo` (default: the id). */
async function identityDir(files: Record<string, "crt" | "key" | "pair" | string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "sim-ids-"));
  for (const [name, what] of Object.entries(files)) {
    if (what === "pair") {
      const { certPem, keyPem } = await ca.issueClient(name);
      writeFileSync(join(dir, `${name}.crt`), certPem);
      writeFileSync(join(dir, `${name}.key`), keyPem, { mode: 0o600 });
    } else if (what === "crt" || what === "key") {
      const { certPem, keyPem } = await ca.issueClient(name.replace(/\.(crt|key)$/, ""));
      writeFileSync(join(dir, name), what === "crt" ? certPem : keyPem);
    } else {
      writeFileSync(join(dir, name), what);
    }
  }
  return dir;
}

const caFile = () => {
  const path = join(mkdtempSync(join(tmpdir(), "sim-ca-")), "ca.crt");
  writeFileSync(path, ca.certPem);
  return path;
};

const mqtt = (dir: string, extra: Record<string, string> = {}) => ({ SIM_TRANSPORT: "mqtt", MQTT_URL: "mqtts://broker:8883", MQTT_CA_FILE: caFile(), MQTT_IDENTITY_DIR: dir, ...extra });

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("SIM_TRANSPORT=mqtt settings", () => {
  test("needs no INFLUX_* setting; the identities set the devices, sorted by id; the cap is five minutes of readings", async () => {
    const dir = await identityDir({ "sim-mqtt-002": "pair", "sim-mqtt-001": "pair", "sim-mqtt-003": "pair", "README.txt": "ignored", "..data": "ignored" });
    const config = loadConfig(mqtt(dir, { SIM_INTERVAL_MS: "1000" })) as MqttSimulatorConfig;
    expect(config.transport).toBe("mqtt");
    expect(config.identities.map((i) => i.id)).toEqual(["sim-mqtt-001", "sim-mqtt-002", "sim-mqtt-003"]);
    expect(config.devices).toBe(3);
    expect(config.mqttUrl.host).toBe("broker:8883");
    expect(config.caPem).toBe(ca.certPem);
    expect(config.maxInflightLines).toBe(3 * 300);
    expect(config).not.toHaveProperty("token");
    // a fleet of one device every 5 s still holds at least one reading per device
    const single = loadConfig(mqtt(await identityDir({ solo: "pair" }), { SIM_INTERVAL_MS: "3600000" }));
    expect(single.maxInflightLines).toBe(1);
  });

  test("the HTTPS mode is the default and still needs its settings", () => {
    const found = problems({});
    expect(found).toEqual(expect.arrayContaining(["INFLUX_URL is required", "INFLUX_ORG is required", "INFLUX_BUCKET is required"]));
    expect(found.join("\n")).not.toMatch(/MQTT/);
    expect(loadConfig({ INFLUX_URL: "https://influxdb:8086", INFLUX_ORG: "o", INFLUX_BUCKET: "b", INFLUX_TOKEN: "t" }).transport).toBe("https");
  });

  test.each<[string, () => Promise<Record<string, string>>, RegExp]>([
    ["unknown transport", async () => ({ SIM_TRANSPORT: "amqp" }), /^SIM_TRANSPORT must be one of https, mqtt$/],
    ["no MQTT_URL", async () => ({ SIM_TRANSPORT: "mqtt", MQTT_IDENTITY_DIR: await identityDir({ a: "pair" }) }), /^MQTT_URL is required when SIM_TRANSPORT=mqtt/],
    ["plain mqtt://", async () => mqtt(await identityDir({ a: "pair" }), { MQTT_URL: "mqtt://broker:1883" }), /^MQTT_URL must be an mqtts:\/\/ URL such as mqtts:\/\/broker:8883 \(devices authenticate with their TLS client certificate; plain mqtt:\/\/ is not supported\)$/],
    ["a URL with a path", async () => mqtt(await identityDir({ a: "pair" }), { MQTT_URL: "mqtts://broker:8883/x" }), /^MQTT_URL must be an mqtts:\/\//],
    ["a URL with credentials", async () => mqtt(await identityDir({ a: "pair" }), { MQTT_URL: "mqtts://user:secret@broker:8883" }), /^MQTT_URL must be an mqtts:\/\//],
    ["no MQTT_IDENTITY_DIR", async () => ({ SIM_TRANSPORT: "mqtt", MQTT_URL: "mqtts://broker" }), /^MQTT_IDENTITY_DIR is required when SIM_TRANSPORT=mqtt/],
    ["a directory that does not exist", async () => mqtt("/nonexistent/ids"), /^MQTT_IDENTITY_DIR cannot be read \(\/nonexistent\/ids\): ENOENT$/],
    ["an empty directory", async () => mqtt(await identityDir({})), /^MQTT_IDENTITY_DIR holds no device identity \(.*\): put <id>\.crt and <id>\.key there, one pair per device$/],
    ["a .crt without its .key", async () => mqtt(await identityDir({ a: "pair", "b.crt": "crt" })), /^MQTT_IDENTITY_DIR: b\.crt has no b\.key in /],
    ["a .key without its .crt", async () => mqtt(await identityDir({ a: "pair", "b.key": "key" })), /^MQTT_IDENTITY_DIR: b\.key has no b\.crt in /],
    ["an id with capitals", async () => mqtt(await identityDir({ "Sensor-1": "pair" })), /^MQTT_IDENTITY_DIR: "Sensor-1" is not a device id \(1-63 characters of a-z 0-9 -, not starting with -\)/],
    ["an id starting with -", async () => mqtt(await identityDir({ "-x": "pair" })), /^MQTT_IDENTITY_DIR: "-x" is not a device id/],
    ["an id of 64 characters", async () => mqtt(await identityDir({ ["a".repeat(64)]: "pair" })), /is not a device id/],
    ["a certificate issued to another name", async () => mqtt(await identityDir({ "b.crt": (await ca.issueClient("a")).certPem, "b.key": "x" })), /^MQTT_IDENTITY_DIR: .*b\.crt is issued to "a", not to CN=b$/],
    ["a key of another certificate", async () => mqtt(await identityDir({ "a.crt": (await ca.issueClient("a")).certPem, "a.key": (await otherCa.issueClient("a")).keyPem })), /^MQTT_IDENTITY_DIR: .*a\.key is not the private key of .*a\.crt$/],
    ["a .crt that is not a certificate", async () => mqtt(await identityDir({ "a.crt": "hello", "a.key": "x" })), /^MQTT_IDENTITY_DIR: .*a\.crt is not a PEM certificate$/],
    ["a .key that is not a key", async () => mqtt(await identityDir({ "a.crt": (await ca.issueClient("a")).certPem, "a.key": "hello" })), /^MQTT_IDENTITY_DIR: .*a\.key is not a PEM private key$/],
    ["a CA file that is not PEM", async () => ({ ...mqtt(await identityDir({ a: "pair" })), MQTT_CA_FILE: await identityDir({ "ca.pem": "x" }).then((d) => join(d, "ca.pem")) }), /^MQTT_CA_FILE must be a PEM file of one or more certificates/],
    ["SIM_DEVICES other than the identities", async () => mqtt(await identityDir({ a: "pair", b: "pair" }), { SIM_DEVICES: "5" }), /^SIM_DEVICES is 5 but MQTT_IDENTITY_DIR holds 2 device identities; with SIM_TRANSPORT=mqtt leave SIM_DEVICES unset/],
  ])("%s: one line naming the setting", async (_name, makeEnv, message) => {
    const found = problems(await makeEnv());
    expect(found.some((p) => message.test(p))).toBe(true);
    // exactly the problem at hand: no complaint about the HTTPS mode's settings
    expect(found.join("\n")).not.toMatch(/INFLUX_/);
  });

  test("SIM_DEVICES equal to the identities is accepted", async () => {
    expect(loadConfig(mqtt(await identityDir({ a: "pair", b: "pair" }), { SIM_DEVICES: "2" })).devices).toBe(2);
  });

  test("as a process: exit 2 with one fatal line, before any connection", async () => {
    const sim = startSimulator(baseEnv(mqtt(await identityDir({}))));
    expect(await sim.exited).toBe(2);
    const fatal = sim.logs.filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0].msg).toMatch(/^invalid configuration: MQTT_IDENTITY_DIR holds no device identity/);
  });
});

describe("the MQTT payload", () => {
  test("each fleet line becomes its device's line: the device's id as tag, the same fields, the timestamp in nanoseconds", () => {
    const ids = ["sim-mqtt-001", "sim-mqtt-002", "sim-mqtt-003"];
    const fleet = new Fleet({ devices: 3, intervalMs: 1000, seed: 7, site: "plant-7", measurement: "environment", faults: { spikeRate: 0, stuckRate: 0, dropoutRate: 0 } });
    const t = 1_765_000_000_123;
    for (let device = 0; device < 3; device++) {
      const line = fleet.line(device, t + device) as string;
      const { device: index, payload } = deviceMessage(line, ids);
      expect(index).toBe(device);
      const point = parseLine(payload);
      const original = parseLine(line);
      expect(point.tags).toEqual({ device: ids[device], site: "plant-7" });
      expect(point.fields).toEqual(original.fields);
      expect(point.integerFields).toEqual(original.integerFields);
      // exact: the milliseconds with six zeros, not a float product
      expect(payload.slice(payload.lastIndexOf(" ") + 1)).toBe(`${t + device}000000`);
    }
    expect(readingsTopic("plant-7", "sim-mqtt-002")).toBe("devices/plant-7/sim-mqtt-002/readings");
  });

  test("a line of a device without an identity is an error, not a message on another device's topic", () => {
    const fleet = new Fleet({ devices: 2, intervalMs: 1000, seed: 1, site: "s", measurement: "environment", faults: { spikeRate: 0, stuckRate: 0, dropoutRate: 0 } });
    expect(() => deviceMessage(fleet.line(1, 1000) as string, ["only-one"])).toThrow(/device number 000002 has no identity \(1 devices\)/);
  });
});
