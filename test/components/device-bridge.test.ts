// DeviceBridge alone under mocks: Telegraf with its own client certificate, its own write-only
// token volume (read-only, nothing else of InfluxDB's), the backend only, hardened.
import { CONTAINER, one, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY } from "./support";

function build() {
  return runUnderMocks("dev", {}, (pulumi) => {
    const docker = require("@pulumi/docker");
    const { DeviceBridge } = require("../../components/device-bridge");
    const influx = new docker.Container("influx", { image: "x" });
    const broker = new docker.Container("mosquitto", { image: "y" });
    const bridge = new DeviceBridge("bridge", {
      namePrefix: "iot-t",
      backendNetworkName: "iot-t-backend",
      brokerUrl: "ssl://broker:8883",
      caCertPem: "CA",
      identity: { certPem: "BRIDGE-CERT", privateKeyPem: pulumi.secret("BRIDGE-KEY") },
      influx: { url: "https://influxdb:8086", org: pulumi.output("iot"), bucket: "sensors", writeToken: { volumeName: pulumi.output("iot-t-influxdb-token-bridge") } },
      bufferLimit: 50_000,
      maxUndelivered: 500,
      platform: "linux/amd64",
      startAfter: [influx, broker],
      limits: LIMITS,
      policy: POLICY,
    });
    return { image: bridge.image };
  });
}

describe("DeviceBridge alone", () => {
  test("the pinned telegraf image, the version the MQTT tier builds", async () => {
    const run = await build();
    const image = one(run, "docker:index/remoteImage:RemoteImage", "bridge-image").inputs;
    expect(image).toMatchObject({ name: expect.stringMatching(/^telegraf:1\.37\.3@sha256:[0-9a-f]{64}$/), keepLocally: true, platform: "linux/amd64" });
    expect(run.exports.image).toBe(image.name);
    expect(one(run, CONTAINER, "bridge-container").inputs.image).toBe("sha256:mock-image-id-of-bridge-image");
  });

  test("mounts its files read-only and its own token volume read-only, nothing else; no port, backend only, no environment", async () => {
    const run = await build();
    const c = one(run, CONTAINER, "bridge-container").inputs;
    expect(c.mounts).toEqual([
      { type: "volume", source: "iot-t-bridge-files", target: "/etc/iot/bridge", readOnly: true },
      { type: "volume", source: "iot-t-influxdb-token-bridge", target: "/run/secrets/influxdb-token", readOnly: true },
    ]);
    expect(c.networksAdvanced).toEqual([{ name: "iot-t-backend" }]);
    expect(c.ports ?? []).toEqual([]);
    expect(c.envs ?? []).toEqual([]);
    expect(c.labels).toEqual([{ label: "iot.files-revision", value: one(run, CONTAINER, "bridge-files-loader").id }]);
  });

  test("hardened as every service, as a numeric non-root user; health from Telegraf's own health output", async () => {
    const c = one(await build(), CONTAINER, "bridge-container").inputs;
    expect(c).toMatchObject({
      name: "iot-t-bridge",
      user: "10002:10002",
      readOnly: true,
      capabilities: { drops: ["ALL"], adds: [] },
      securityOpts: ["no-new-privileges:true"],
      memory: LIMITS.memoryMb,
      cpus: "0.5",
      wait: true,
      command: ["telegraf", "--strict-env-handling", "--config", "/etc/iot/bridge/telegraf.conf"],
      hostname: "bridge",
    });
    expect(c.healthcheck.tests).toEqual(["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"]);
  });

  test("its files: the rendered config with the values given, the CA, its own certificate and key (secret)", async () => {
    const run = await build();
    const loader = one(run, CONTAINER, "bridge-files-loader");
    const files = uploads(loader);
    expect(Object.keys(files).sort()).toEqual(["telegraf.conf", "tls/ca.pem", "tls/client.crt", "tls/client.key"]);
    expect(files["tls/client.key"].content).toBe("BRIDGE-KEY");
    expect(files["tls/client.crt"].content).toBe("BRIDGE-CERT");
    expect(loader.secretInputs).toEqual(["uploads"]);
    for (const f of Object.values(files)) expect(f).toMatchObject({ owner: "10002", group: "10002", permissions: "0444" });
    const conf = files["telegraf.conf"].content.split("\n");
    for (const line of [
      '  servers = ["ssl://broker:8883"]',
      '  urls = ["https://influxdb:8086"]',
      '  organization = "iot"',
      '  bucket = "sensors"',
      '  tls_ca = "/etc/iot/bridge/tls/ca.pem"',
      '  tls_cert = "/etc/iot/bridge/tls/client.crt"',
      '  tls_key = "/etc/iot/bridge/tls/client.key"',
      '  path = "/run/secrets/influxdb-token"',
      "  metric_buffer_limit = 50000",
      "  max_undelivered_messages = 500",
      '  service_address = "http://127.0.0.1:8080"',
    ]) {
      expect(conf).toContain(line);
    }
  });
});
