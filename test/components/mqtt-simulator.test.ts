// MqttSimulator alone under mocks: the simulator's image in MQTT mode, one certificate and key per
// simulated device in its files volume, no InfluxDB token, the backend only.
import { CONTAINER, env, one, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY } from "./support";

function build() {
  return runUnderMocks("dev", {}, (pulumi) => {
    const docker = require("@pulumi/docker");
    const { MqttSimulator } = require("../../components/mqtt-simulator");
    const broker = new docker.Container("mosquitto", { image: "y" });
    new MqttSimulator("mqtt-simulator", {
      namePrefix: "iot-t",
      imageId: "sha256:simulator-image",
      backendNetworkName: "iot-t-backend",
      brokerUrl: "mqtts://broker:8883",
      caCertPem: "CA",
      identities: {
        "sim-mqtt-001": { certPem: "CERT-1", privateKeyPem: pulumi.secret("KEY-1") },
        "sim-mqtt-002": { certPem: "CERT-2", privateKeyPem: pulumi.secret("KEY-2") },
      },
      site: "plant-7",
      intervalMs: 2000,
      seed: 9,
      logLevel: "warn",
      startAfter: broker,
      limits: LIMITS,
      policy: POLICY,
    });
    return {};
  });
}

describe("MqttSimulator alone", () => {
  test("configured for MQTT by environment, with no InfluxDB URL, token or key in it", async () => {
    const c = one(await build(), CONTAINER, "mqtt-simulator-container");
    expect(env(c)).toEqual({
      SIM_TRANSPORT: "mqtt",
      MQTT_URL: "mqtts://broker:8883",
      MQTT_CA_FILE: "/etc/iot/simulator/tls/ca.pem",
      MQTT_IDENTITY_DIR: "/etc/iot/simulator/identities",
      SIM_INTERVAL_MS: "2000",
      SIM_SITE: "plant-7",
      SIM_SEED: "9",
      LOG_LEVEL: "warn",
      SIM_HEALTH_FILE: "/tmp/simulator-health.json",
      SIM_SHUTDOWN_TIMEOUT_MS: "8000",
    });
  });

  test("one certificate and key per device, named by the device id (the simulator takes the ids from the file names); keys secret", async () => {
    const run = await build();
    const loader = one(run, CONTAINER, "mqtt-simulator-files-loader");
    const files = uploads(loader);
    expect(Object.keys(files).sort()).toEqual([
      "identities/sim-mqtt-001.crt",
      "identities/sim-mqtt-001.key",
      "identities/sim-mqtt-002.crt",
      "identities/sim-mqtt-002.key",
      "tls/ca.pem",
    ]);
    expect(files["identities/sim-mqtt-002.key"].content).toBe("KEY-2");
    expect(files["identities/sim-mqtt-001.crt"].content).toBe("CERT-1");
    expect(loader.secretInputs).toEqual(["uploads"]);
    for (const f of Object.values(files)) expect(f).toMatchObject({ owner: "10001", group: "10001", permissions: "0444" });
    // the loader runs the simulator's own image, by id
    expect(loader.inputs.image).toBe("sha256:simulator-image");
  });

  test("mounts only its files, read-only: no token volume; backend only, no port; hardened under an init", async () => {
    const run = await build();
    const c = one(run, CONTAINER, "mqtt-simulator-container").inputs;
    expect(c.mounts).toEqual([{ type: "volume", source: "iot-t-mqtt-simulator-files", target: "/etc/iot/simulator", readOnly: true }]);
    expect(c.networksAdvanced).toEqual([{ name: "iot-t-backend" }]);
    expect(c.ports ?? []).toEqual([]);
    expect(c).toMatchObject({ name: "iot-t-mqtt-simulator", user: "10001:10001", init: true, readOnly: true, capabilities: { drops: ["ALL"], adds: [] }, stopTimeout: 15, wait: true });
    expect(c.labels).toEqual([{ label: "iot.files-revision", value: one(run, CONTAINER, "mqtt-simulator-files-loader").id }]);
    // its own shutdown deadline inside Docker's stop timeout, with room for exit and teardown
    const container = one(run, CONTAINER, "mqtt-simulator-container");
    expect(Number(env(container).SIM_SHUTDOWN_TIMEOUT_MS) + 5000).toBeLessThanOrEqual(c.stopTimeout * 1000);
  });
});
