// MqttBroker alone under mocks: the image, the files it stages (and which are secret), the one
// published port, the networks, the hardening, the health check, the data volume.
import { CONTAINER, one, ofType, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY, TLS } from "./support";

function build(options: { bindAddress?: string; hostPort?: number; protectData?: boolean; devices?: { id: string; site: string }[] } = {}) {
  return runUnderMocks("dev", {}, (pulumi) => {
    const { MqttBroker } = require("../../components/mqtt-broker");
    const broker = new MqttBroker("broker", {
      namePrefix: "iot-t",
      backendNetworkName: "iot-t-backend",
      frontendNetworkName: "iot-t-frontend",
      alias: "broker",
      bindAddress: options.bindAddress ?? "127.0.0.1",
      hostPort: options.hostPort ?? 8883,
      tls: TLS(pulumi),
      crlPem: "CRL",
      devices: options.devices ?? [{ id: "pump-7", site: "plant-2" }],
      healthIdentity: { certPem: "HEALTH-CERT", privateKeyPem: pulumi.secret("HEALTH-KEY") },
      maxQueuedMessages: 5000,
      maxQueuedBytes: 1_000_000,
      maxInflightMessages: 700,
      platform: "linux/arm64",
      limits: LIMITS,
      policy: POLICY,
      protectData: options.protectData ?? false,
    });
    return { url: broker.url, image: broker.image, protected: (broker.dataVolume as any).__protect };
  });
}

describe("MqttBroker alone", () => {
  test("the pinned eclipse-mosquitto image for the host's platform; the URL the bridge uses", async () => {
    const run = await build();
    const image = one(run, "docker:index/remoteImage:RemoteImage", "broker-image").inputs;
    expect(image).toMatchObject({ name: expect.stringMatching(/^eclipse-mosquitto:2\.0\.\d+@sha256:[0-9a-f]{64}$/), keepLocally: true, platform: "linux/arm64" });
    expect(run.exports.image).toBe(image.name);
    expect(run.exports.url).toBe("ssl://broker:8883");
    expect(one(run, CONTAINER, "broker-container").inputs.image).toBe("sha256:mock-image-id-of-broker-image");
  });

  test("publishes only its TLS port, on the bind address given; backend (with its alias) and frontend", async () => {
    const run = await build({ bindAddress: "192.0.2.10", hostPort: 18883 });
    const c = one(run, CONTAINER, "broker-container").inputs;
    expect(c.ports).toEqual([{ internal: 8883, external: 18883, ip: "192.0.2.10", protocol: "tcp" }]);
    expect(c.networksAdvanced).toEqual([{ name: "iot-t-backend", aliases: ["broker"] }, { name: "iot-t-frontend" }]);
    // no hostname: the engine would alias it on the frontend network too (moby #39204)
    expect(c.hostname).toBeUndefined();
  });

  test("hardened as every service: its image's mosquitto user, read-only root, no capability, limits, health-gated", async () => {
    const c = one(await build(), CONTAINER, "broker-container").inputs;
    expect(c).toMatchObject({
      name: "iot-t-broker",
      user: "1883:1883",
      readOnly: true,
      privileged: false,
      capabilities: { drops: ["ALL"], adds: [] },
      securityOpts: ["no-new-privileges:true"],
      memory: LIMITS.memoryMb,
      memorySwap: LIMITS.memoryMb,
      cpus: "0.5",
      wait: true,
      command: ["mosquitto", "-c", "/etc/iot/broker/mosquitto.conf"],
    });
    expect(Object.keys(c.tmpfs)).toEqual(["/tmp"]);
    // no secret, no configuration in the environment: everything is in the files volume
    expect(c.envs ?? []).toEqual([]);
  });

  test("the files volume (read-only) holds the rendered config, the ACL, the TLS files, the CRL and the health identity; keys secret", async () => {
    const run = await build();
    const loader = one(run, CONTAINER, "broker-files-loader");
    const files = uploads(loader);
    expect(Object.keys(files).sort()).toEqual(["acl", "health/client.crt", "health/client.key", "mosquitto.conf", "tls/ca.pem", "tls/crl.pem", "tls/server.crt", "tls/server.key"]);
    expect(files["tls/server.key"].content).toBe("SERVER-KEY");
    expect(files["health/client.key"].content).toBe("HEALTH-KEY");
    expect(files["tls/crl.pem"].content).toBe("CRL");
    expect(files["tls/ca.pem"].content).toBe("CA");
    expect(loader.secretInputs).toEqual(["uploads"]);
    for (const f of Object.values(files)) expect(f).toMatchObject({ owner: "1883", group: "1883", permissions: "0444" });
    // the config names the staged files where the container mounts them, and the options given
    const conf = files["mosquitto.conf"].content;
    for (const line of [
      "listener 8883",
      "certfile /etc/iot/broker/tls/server.crt",
      "keyfile /etc/iot/broker/tls/server.key",
      "cafile /etc/iot/broker/tls/ca.pem",
      "crlfile /etc/iot/broker/tls/crl.pem",
      "acl_file /etc/iot/broker/acl",
      "persistence_location /mosquitto/data/",
      "tls_version tlsv1.3",
      "max_queued_messages 5000",
      "max_queued_bytes 1000000",
      "max_inflight_messages 700",
    ]) {
      expect(conf.split("\n")).toContain(line);
    }
    expect(files.acl.content).toMatch(/^user pump-7\ntopic write devices\/plant-2\/pump-7\/readings$/m);
    const c = one(run, CONTAINER, "broker-container").inputs;
    expect(c.mounts).toEqual([
      { type: "volume", source: "iot-t-broker-data", target: "/mosquitto/data" },
      { type: "volume", source: "iot-t-broker-files", target: "/etc/iot/broker", readOnly: true },
    ]);
    // replaced whenever its files change: that is how a revocation closes open sessions
    expect(c.labels).toEqual([{ label: "iot.files-revision", value: loader.id }]);
  });

  test("the health check is an MQTT round trip over TLS with the health identity, within its timeout", async () => {
    const hc = one(await build(), CONTAINER, "broker-container").inputs.healthcheck;
    expect(hc.tests).toEqual([
      "CMD", "mosquitto_sub", "-h", "localhost", "-p", "8883",
      "--cafile", "/etc/iot/broker/tls/ca.pem",
      "--cert", "/etc/iot/broker/health/client.crt",
      "--key", "/etc/iot/broker/health/client.key",
      "-t", "$SYS/broker/uptime", "-C", "1", "-W", "12",
    ]);
    // mosquitto_sub gives up (-W) before Docker's timeout kills it
    expect(Number(hc.tests[hc.tests.indexOf("-W") + 1])).toBeLessThan(Number.parseInt(hc.timeout, 10));
    expect(hc).toMatchObject({ interval: "30s", timeout: "15s", retries: 3, startPeriod: "30s" });
  });

  test("the data volume is protected as the stack says", async () => {
    expect((await build({ protectData: true })).exports.protected).toBe(true);
    expect((await build({ protectData: false })).exports.protected).toBe(false);
    const run = await build();
    expect(ofType(run, "docker:index/volume:Volume").map((v) => v.inputs.name).sort()).toEqual(["iot-t-broker-data", "iot-t-broker-files"]);
  });
});
