// The whole program, for each shipped stack, under Pulumi mocks: which resources exist with which
// inputs, what must never be there, the hardening of every container, TLS wiring, start order,
// and which outputs are secret.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  CONTAINER,
  MOCK_NOT_AFTER,
  env,
  isSecret,
  ofType,
  one,
  isSecretDeep,
  resolveDeep,
  runUnderMocks,
  serviceContainers,
  stackConfig,
  uploads,
  type RecordedResource,
  type Run,
} from "./support/harness";

const STACKS = ["dev", "prod"] as const;
type Stack = (typeof STACKS)[number];
const runs: Record<string, Run> = {};
/** The MQTT path per shipped stack: dev runs three simulated MQTT devices (simMqttDevices: 3), prod none. */
const SIMULATED_MQTT: Record<Stack, string[]> = { dev: ["sim-mqtt-001", "sim-mqtt-002", "sim-mqtt-003"], prod: [] };
const MQTT_SERVICES = ["broker", "bridge", "mqtt-simulator"];

beforeAll(async () => {
  for (const stack of STACKS) runs[stack] = await runUnderMocks(stack, stackConfig(stack));
});

/** The mock value of a generated secret (see mockOutputs), after checking it was generated. */
const secretOf = (run: Run, name: string) => {
  one(run, "random:index/randomPassword:RandomPassword", name);
  return `MOCK-SECRET-${name}`;
};
const container = (run: Run, name: string) => one(run, CONTAINER, `${name}-container`);
const loader = (run: Run, name: string) => one(run, CONTAINER, `${name}-files-loader`);

describe.each(STACKS)("%s stack", (stack) => {
  const run = () => runs[stack];
  const mqtt = SIMULATED_MQTT[stack].length > 0;
  const mqttServices = mqtt ? MQTT_SERVICES : [];
  // The MQTT path's own tests exist only for a stack that declares MQTT devices (dev): not skipped
  // for the others, where "the expected resources" asserts that none of it is there.
  const mqttTest = (name: string, fn: () => void) => {
    if (mqtt) test(name, fn);
  };
  const site = stackConfig(stack)["secure-iot:simSite"];

  test("the expected resources: two networks, a CA and its certificates, the services, their file volumes; the MQTT path only where devices are declared", () => {
    const r = run();
    expect(ofType(r, "docker:index/network:Network").map((n) => n.name).sort()).toEqual(["network-backend", "network-frontend"]);
    expect(serviceContainers(r).map((c) => c.name).sort()).toEqual(
      ["grafana", "influxdb", "simulator", ...mqttServices].map((s) => `${s}-container`).sort(),
    );
    expect(ofType(r, CONTAINER).filter((c) => c.inputs.start === false).map((c) => c.name).sort()).toEqual(
      [
        "grafana-files-loader",
        // where npm run backup / restore stage a backup inside InfluxDB's read-only container
        "influxdb-backups-loader",
        "influxdb-files-loader",
        "influxdb-initdb-loader",
        // made at every first setup, devices or not: a stack that declares its first device later finds it
        "influxdb-token-bridge-loader",
        "influxdb-token-grafana-loader",
        "influxdb-token-simulator-loader",
        "simulator-files-loader",
        ...mqttServices.map((s) => `${s}-files-loader`),
      ].sort(),
    );
    expect(ofType(r, "pulumi-nodejs:dynamic:Resource").map((g) => g.name).sort()).toEqual(mqtt ? ["device-crl", "influxdb-setup"] : ["influxdb-setup"]);
    expect(ofType(r, "tls:index/selfSignedCert:SelfSignedCert")).toHaveLength(1);
    const clients = mqtt ? [...SIMULATED_MQTT[stack], "bridge", "broker-health"].map((id) => `pki-client-${id}-cert`) : [];
    expect(ofType(r, "tls:index/locallySignedCert:LocallySignedCert").map((c) => c.name).sort()).toEqual(
      ["pki-grafana-cert", "pki-influxdb-cert", ...(mqtt ? ["pki-broker-cert"] : []), ...clients].sort(),
    );
    expect(ofType(r, "docker:index/image:Image").map((i) => i.name)).toEqual(["simulator-image"]);
    expect(ofType(r, "docker:index/remoteImage:RemoteImage").map((i) => i.name).sort()).toEqual(
      ["grafana-image", "influxdb-image", ...(mqtt ? ["bridge-image", "broker-image"] : [])].sort(),
    );
    for (const component of ["iot:index:Network", "iot:index:Pki", "iot:index:Credentials", "iot:index:InfluxDb", "iot:index:Grafana", "iot:index:Simulator"]) {
      expect(ofType(r, component)).toHaveLength(1);
    }
    for (const component of ["iot:index:MqttBroker", "iot:index:DeviceBridge", "iot:index:MqttSimulator"]) {
      expect({ component, count: ofType(r, component).length }).toEqual({ component, count: mqtt ? 1 : 0 });
    }
  });

  test("the backend network is internal; only the frontend can route out", () => {
    expect(one(run(), "docker:index/network:Network", "network-backend").inputs.internal).toBe(true);
    expect(one(run(), "docker:index/network:Network", "network-frontend").inputs.internal).toBe(false);
  });

  test("InfluxDB, the simulator, the bridge and the MQTT simulator are on the backend only; Grafana and the broker on both; only they publish a port, on loopback", () => {
    const r = run();
    const networks = (c: RecordedResource) => c.inputs.networksAdvanced.map((n: { name: string }) => n.name).sort();
    const backendOnly = ["influxdb", "simulator", ...mqttServices.filter((s) => s !== "broker")];
    for (const name of backendOnly) {
      expect({ name, networks: networks(container(r, name)) }).toEqual({ name, networks: [`iot-${stack}-backend`] });
      expect({ name, ports: container(r, name).inputs.ports ?? [] }).toEqual({ name, ports: [] });
    }
    expect(networks(container(r, "grafana"))).toEqual([`iot-${stack}-backend`, `iot-${stack}-frontend`]);
    expect(container(r, "grafana").inputs.ports).toEqual([{ internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" }]);
    if (mqtt) {
      expect(networks(container(r, "broker"))).toEqual([`iot-${stack}-backend`, `iot-${stack}-frontend`]);
      // the bridge and the simulated devices reach it by its alias on the backend
      expect(container(r, "broker").inputs.networksAdvanced).toContainEqual({ name: `iot-${stack}-backend`, aliases: ["broker"] });
      expect(container(r, "broker").inputs.ports).toEqual([{ internal: 8883, external: 8883, ip: "127.0.0.1", protocol: "tcp" }]);
    }
    const publishing = serviceContainers(r).filter((c) => (c.inputs.ports ?? []).length > 0).map((c) => c.name).sort();
    expect(publishing).toEqual(mqtt ? ["broker-container", "grafana-container"] : ["grafana-container"]);
  });

  test("every service container is hardened, the MQTT ones included", () => {
    expect(serviceContainers(run())).toHaveLength(3 + mqttServices.length);
    for (const c of serviceContainers(run())) {
      const i = c.inputs;
      expect({ name: c.name, user: i.user }).toEqual({ name: c.name, user: expect.stringMatching(/^[1-9]\d*:\d+$/) });
      expect(i.readOnly).toBe(true);
      expect(i.privileged).toBe(false);
      expect(i.capabilities).toEqual({ drops: ["ALL"], adds: [] });
      expect(i.securityOpts).toEqual(["no-new-privileges:true"]);
      expect(i.ipcMode).toBe("private");
      expect(i.memory).toBeGreaterThan(0);
      expect(i.memorySwap).toBe(i.memory);
      expect(Number(i.cpus)).toBeGreaterThan(0);
      expect(i.restart).toBe("on-failure");
      expect(i.maxRetryCount).toBeGreaterThanOrEqual(1);
      expect(i.maxRetryCount).toBeLessThanOrEqual(10);
      expect(i.logDriver).toBe("json-file");
      expect(i.logOpts).toEqual({ "max-size": expect.stringMatching(/^\d+[kmg]$/), "max-file": expect.stringMatching(/^\d+$/) });
      expect(i.healthcheck.tests[0]).toBe("CMD");
      expect(i.wait).toBe(true);
      expect(i.waitTimeout).toBeGreaterThanOrEqual(30);
      expect(Object.keys(i.tmpfs ?? {})).toContain("/tmp");
      for (const options of Object.values<string>(i.tmpfs)) expect(options).toMatch(/noexec/);
    }
  });

  test("no mount uses volume options: the provider refuses them below API 1.45 and older engines ignore subpaths", () => {
    for (const c of ofType(run(), CONTAINER)) {
      for (const mount of c.inputs.mounts ?? []) expect({ container: c.name, volumeOptions: mount.volumeOptions }).toEqual({ container: c.name, volumeOptions: undefined });
    }
  });

  test("each files volume is mounted by one service only, read-only; each token volume by its consumer and InfluxDB", () => {
    const r = run();
    const mountersOf = (volume: string) =>
      serviceContainers(r)
        .filter((c) => (c.inputs.mounts ?? []).some((m: { source: string }) => m.source === volume))
        .map((c) => c.name);
    for (const service of ["influxdb", "grafana", "simulator", ...mqttServices]) {
      expect(mountersOf(`iot-${stack}-${service}-files`)).toEqual([`${service}-container`]);
      const mount = container(r, service).inputs.mounts.find((m: { source: string }) => m.source === `iot-${stack}-${service}-files`);
      expect(mount.readOnly).toBe(true);
    }
    for (const consumer of ["simulator", "grafana"]) {
      expect(mountersOf(`iot-${stack}-influxdb-token-${consumer}`).sort()).toEqual([`${consumer}-container`, "influxdb-container"].sort());
    }
    // the bridge's token volume exists (and is filled at first setup) on every stack; only the bridge reads it
    expect(mountersOf(`iot-${stack}-influxdb-token-bridge`).sort()).toEqual((mqtt ? ["bridge-container", "influxdb-container"] : ["influxdb-container"]).sort());
    if (mqtt) expect(mountersOf(`iot-${stack}-broker-data`)).toEqual(["broker-container"]);
    // so a mode every uid can read exposes nothing: files are never writable, secrets included
    for (const l of ofType(r, CONTAINER).filter((c) => c.inputs.start === false)) {
      for (const upload of l.inputs.uploads ?? []) expect(["0444", "0555"]).toContain(upload.permissions);
    }
    // a loader that stages a private key sends (and so stores) its uploads as a secret
    for (const l of ofType(r, CONTAINER).filter((c) => c.inputs.start === false)) {
      const stagesKey = (l.inputs.uploads ?? []).some((u: { content: string }) => /PRIVATE KEY/.test(u.content));
      if (stagesKey) expect({ loader: l.name, secret: l.secretInputs }).toEqual({ loader: l.name, secret: ["uploads"] });
    }
  });

  test("Node runs under an init process; the images with their own entrypoint do not need one", () => {
    expect(container(run(), "simulator").inputs.init).toBe(true);
    if (mqtt) expect(container(run(), "mqtt-simulator").inputs.init).toBe(true);
  });

  test("no container is privileged, on the host network, mounts the Docker socket or a host path", () => {
    for (const c of ofType(run(), CONTAINER)) {
      expect(c.inputs.privileged ?? false).toBe(false);
      expect(c.inputs.networkMode ?? "").not.toBe("host");
      for (const mount of [...(c.inputs.mounts ?? []), ...(c.inputs.volumes ?? [])]) {
        expect(mount.type ?? "volume").toBe("volume");
        expect(mount.hostPath).toBeUndefined();
        expect(JSON.stringify(mount)).not.toMatch(/docker\.sock/);
      }
    }
  });

  test("no image is referenced by `latest`; third-party images are pinned by version and digest", () => {
    for (const image of ofType(run(), "docker:index/remoteImage:RemoteImage")) {
      expect(image.inputs.name).toMatch(/^[a-z][a-z/-]*:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    }
    const simulatorImage = one(run(), "docker:index/image:Image", "simulator-image");
    expect(simulatorImage.inputs.imageName).toMatch(new RegExp(`^iot-${stack}-simulator:\\d+\\.\\d+\\.\\d+-[0-9a-f]{12}$`));
    expect(simulatorImage.inputs.skipPush).toBe(true);
    expect(JSON.stringify(run().resources.map((r) => r.inputs))).not.toMatch(/:latest\b/);
  });

  test("the operator token and the admin passwords reach no container but their own", () => {
    const r = run();
    const operatorToken = secretOf(r, "credentials-influx-operator-token");
    const influxPassword = secretOf(r, "credentials-influx-admin-password");
    const grafanaPassword = secretOf(r, "credentials-grafana-admin-password");
    const grafanaKey = secretOf(r, "credentials-grafana-secret-key");
    const text = (c: RecordedResource) => JSON.stringify(c.inputs);
    for (const name of ["simulator", "grafana", ...mqttServices]) {
      expect(text(container(r, name))).not.toContain(operatorToken);
      expect(text(loader(r, name))).not.toContain(operatorToken);
      expect(text(loader(r, name))).not.toContain(influxPassword);
    }
    for (const name of mqttServices) {
      expect(text(loader(r, name))).not.toContain(grafanaPassword);
      expect(text(loader(r, name))).not.toContain(grafanaKey);
    }
    for (const c of ofType(r, CONTAINER)) {
      // secrets travel as files, never as environment variables
      for (const secret of [operatorToken, influxPassword, grafanaPassword, grafanaKey]) expect(JSON.stringify(c.inputs.envs ?? [])).not.toContain(secret);
    }
    expect(uploads(loader(r, "influxdb"))["secrets/operator-token"].content).toContain(operatorToken);
    expect(uploads(loader(r, "grafana"))["secrets/admin-password"].content).toContain(grafanaPassword);
    expect(text(loader(r, "simulator"))).not.toContain(grafanaPassword);
  });

  test("scoped tokens: each consumer mounts only its own token volume, whole and read-only; InfluxDB writes both", () => {
    const r = run();
    const sources = (name: string) => container(r, name).inputs.mounts.map((m: { source: string }) => m.source).sort();
    const tokenVolume = (consumer: string) => `iot-${stack}-influxdb-token-${consumer}`;
    expect(sources("simulator")).toEqual([tokenVolume("simulator"), `iot-${stack}-simulator-files`].sort());
    expect(sources("grafana")).toEqual([`iot-${stack}-grafana-data`, `iot-${stack}-grafana-files`, tokenVolume("grafana")].sort());
    for (const consumer of ["simulator", "grafana"]) {
      const mount = container(r, consumer).inputs.mounts.find((m: { source: string }) => m.source === tokenVolume(consumer));
      expect(mount).toEqual({ type: "volume", source: tokenVolume(consumer), target: "/run/secrets/influxdb-token", readOnly: true });
    }
    const influxMounts = container(r, "influxdb").inputs.mounts;
    for (const consumer of ["simulator", "grafana"]) {
      expect(influxMounts).toContainEqual({ type: "volume", source: tokenVolume(consumer), target: `/etc/iot/handoff/${consumer}` });
    }
    expect(env(container(r, "simulator")).INFLUX_TOKEN_FILE).toBe("/run/secrets/influxdb-token/token");
    expect(env(container(r, "simulator")).INFLUX_TOKEN).toBeUndefined();
    expect(influxMounts).toContainEqual({ type: "volume", source: tokenVolume("bridge"), target: "/etc/iot/handoff/bridge" });
    if (mqtt) {
      expect(sources("bridge")).toEqual([tokenVolume("bridge"), `iot-${stack}-bridge-files`].sort());
      const mount = container(r, "bridge").inputs.mounts.find((m: { source: string }) => m.source === tokenVolume("bridge"));
      expect(mount).toEqual({ type: "volume", source: tokenVolume("bridge"), target: "/run/secrets/influxdb-token", readOnly: true });
      // the simulated MQTT devices hold no InfluxDB token at all, and the broker none either
      expect(sources("mqtt-simulator")).toEqual([`iot-${stack}-mqtt-simulator-files`]);
      expect(sources("broker")).toEqual([`iot-${stack}-broker-data`, `iot-${stack}-broker-files`].sort());
      expect(Object.keys(env(container(r, "mqtt-simulator"))).filter((k) => k.startsWith("INFLUX"))).toEqual([]);
      // the bridge reads its token through a secret store from the mounted file, never from its environment
      expect(container(r, "bridge").inputs.envs ?? []).toEqual([]);
      const conf = uploads(loader(r, "bridge"))["telegraf.conf"].content;
      expect(conf).toMatch(/\[\[secretstores\.docker\]\]\n {2}id = "bridge_secrets"\n {2}path = "\/run\/secrets\/influxdb-token"/);
      expect(conf).toMatch(/^ {2}token = "@\{bridge_secrets:token\}"$/m);
    }
  });

  test("TLS: every client reaches a name that is in the server's certificate and trusts the stack CA", () => {
    const r = run();
    const ca = `-----BEGIN CERTIFICATE-----\nMOCK-CERT-pki-ca\n-----END CERTIFICATE-----\n`;
    const influxSans = one(r, "tls:index/certRequest:CertRequest", "pki-influxdb-csr").inputs.dnsNames;
    const simulatorEnv = env(container(r, "simulator"));
    const influxHost = new URL(simulatorEnv.INFLUX_URL).hostname;
    expect(simulatorEnv.INFLUX_URL).toBe("https://influxdb:8086");
    expect(influxSans).toContain(influxHost);
    expect(influxSans).toContain("localhost"); // the health check inside the container
    expect(simulatorEnv.INFLUX_CA_FILE).toBe("/etc/iot/simulator/tls/ca.pem");
    expect(uploads(loader(r, "simulator"))["tls/ca.pem"].content).toBe(ca);

    const datasource = parseYaml(uploads(loader(r, "grafana"))["provisioning/datasources/influxdb.yaml"].content).datasources[0];
    expect(influxSans).toContain(new URL(datasource.url).hostname);
    expect(datasource.jsonData.tlsAuthWithCACert).toBe(true);
    expect(datasource.jsonData.tlsSkipVerify).toBe(false);
    expect(datasource.secureJsonData.tlsCACert).toBe("$__file{/etc/iot/grafana/tls/ca.pem}");
    expect(uploads(loader(r, "grafana"))["tls/ca.pem"].content).toBe(ca);

    const grafanaCsr = one(r, "tls:index/certRequest:CertRequest", "pki-grafana-csr").inputs;
    expect(grafanaCsr.dnsNames).toEqual(expect.arrayContaining(["localhost", "grafana"]));
    expect(grafanaCsr.ipAddresses).toEqual(["127.0.0.1"]);
    const influxEnv = env(container(r, "influxdb"));
    expect(influxEnv.INFLUXD_TLS_CERT).toBe("/etc/iot/influxdb/tls/server.crt");
    expect(influxEnv.INFLUXD_TLS_KEY).toBe("/etc/iot/influxdb/tls/server.key");
    expect(influxEnv.INFLUXD_TLS_MIN_VERSION).toBe("1.3");
    // ignored under a TLS 1.3 minimum, where influxd would only warn about it at every start
    expect(influxEnv.INFLUXD_TLS_STRICT_CIPHERS).toBeUndefined();
    expect(env(container(r, "grafana")).GF_SERVER_PROTOCOL).toBe("https");
    // a private key is in its service's own files volume, owned by its user (defence in depth) and
    // readable whatever the owner, since only that service, one uid, mounts the volume
    expect(uploads(loader(r, "influxdb"))["tls/server.key"]).toMatchObject({ owner: "1000", permissions: "0444" });
    expect(uploads(loader(r, "grafana"))["tls/server.key"]).toMatchObject({ owner: "472", permissions: "0444" });
  });

  test("start order: Grafana and the simulator depend on the InfluxDB container, which is created only once healthy", () => {
    const r = run();
    const influx = container(r, "influxdb");
    expect(influx.inputs.wait).toBe(true);
    for (const name of ["grafana", "simulator"]) {
      const after = container(r, name).inputs.labels.find((l: { label: string }) => l.label === "iot.after");
      expect(after.value).toBe(influx.id);
    }
  });

  test("outputs: Grafana URL and admin user in clear; passwords and the operator token secret; the CA certificate public", async () => {
    const { exports, pulumi } = run();
    expect(await isSecret(pulumi, exports.grafanaAdminPassword)).toBe(true);
    expect(await isSecret(pulumi, exports.influxdbOperatorToken)).toBe(true);
    expect(await isSecret(pulumi, exports.influxdbAdminPassword)).toBe(true);
    expect(await isSecret(pulumi, exports.caCertificatePem)).toBe(false);
    expect(exports.grafanaUrl).toBe("https://localhost:3000");
    expect(exports.grafanaAdminUser).toBe("admin");
    expect(exports.simulatorImage).toBeDefined();
  });

  test("the simulator gets the stack's device count and interval", () => {
    const e = env(container(run(), "simulator"));
    const settings = stackConfig(stack);
    expect(e.SIM_DEVICES).toBe(settings["secure-iot:simDevices"]);
    expect(e.SIM_INTERVAL_MS).toBe(settings["secure-iot:simIntervalMs"]);
  });

  test("outputs: mqtt and deviceKeys exist only with a broker; the keys are secret, the rest is not", async () => {
    const { exports, pulumi } = run();
    if (!mqtt) {
      expect(exports.mqtt).toBeUndefined();
      expect(exports.deviceKeys).toBeUndefined();
      expect(exports.images).toEqual({ influxdb: expect.any(String), grafana: expect.any(String) });
      return;
    }
    // the simulated devices are the simulator's: no bundle is made for them, so they are not listed
    expect(await resolveDeep(pulumi, exports.mqtt)).toEqual({ host: "localhost", port: 8883, devices: {} });
    expect(await isSecretDeep(pulumi, exports.deviceKeys)).toBe(true);
    expect(await resolveDeep(pulumi, exports.images)).toEqual({
      influxdb: expect.any(String),
      grafana: expect.any(String),
      broker: expect.stringMatching(/^eclipse-mosquitto:2\.0\.\d+@sha256:/),
      bridge: expect.stringMatching(/^telegraf:1\.37\.3@sha256:/),
    });
  });

  mqttTest("MQTT: each simulated device has its own client certificate from the stack CA, staged with its key for the MQTT simulator only", () => {
    const r = run();
    const files = uploads(loader(r, "mqtt-simulator"));
    expect(Object.keys(files).sort()).toEqual(
      ["tls/ca.pem", ...SIMULATED_MQTT[stack].flatMap((id) => [`identities/${id}.crt`, `identities/${id}.key`])].sort(),
    );
    for (const id of SIMULATED_MQTT[stack]) {
      expect(one(r, "tls:index/certRequest:CertRequest", `pki-client-${id}-csr`).inputs.subject.commonName).toBe(id);
      expect(files[`identities/${id}.crt`].content).toBe(`-----BEGIN CERTIFICATE-----\nMOCK-CERT-pki-client-${id}-cert\n-----END CERTIFICATE-----\n`);
      expect(files[`identities/${id}.key`].content).toContain(`MOCK-PKCS8-KEY-pki-client-${id}-key`);
      // no other service is handed a device's key
      for (const other of ["broker", "bridge", "grafana", "influxdb", "simulator"]) expect(JSON.stringify(loader(r, other).inputs)).not.toContain(`MOCK-PKCS8-KEY-pki-client-${id}-key`);
    }
    // the devices' keys make the loader's uploads a secret in the state
    expect(loader(r, "mqtt-simulator").secretInputs).toEqual(["uploads"]);
    const e = env(container(r, "mqtt-simulator"));
    expect(e).toMatchObject({ SIM_TRANSPORT: "mqtt", MQTT_URL: "mqtts://broker:8883", MQTT_CA_FILE: "/etc/iot/simulator/tls/ca.pem", MQTT_IDENTITY_DIR: "/etc/iot/simulator/identities", SIM_SITE: site });
    expect(JSON.stringify(container(r, "mqtt-simulator").inputs.envs)).not.toMatch(/PRIVATE KEY/);
  });

  mqttTest("MQTT: the broker's files: its server key, the health identity and the CRL; every key secret; the ACL grants each identity exactly its topic", () => {
    const r = run();
    const files = uploads(loader(r, "broker"));
    expect(Object.keys(files).sort()).toEqual(
      ["acl", "health/client.crt", "health/client.key", "mosquitto.conf", "tls/ca.pem", "tls/crl.pem", "tls/server.crt", "tls/server.key"].sort(),
    );
    expect(loader(r, "broker").secretInputs).toEqual(["uploads"]);
    expect(files["health/client.crt"].content).toContain("MOCK-CERT-pki-client-broker-health-cert");
    expect(files["tls/crl.pem"].content).toContain("MOCK-CRL-device-crl");
    for (const f of Object.values(files)) expect(f).toMatchObject({ owner: "1883", group: "1883", permissions: "0444" });
    const acl = files.acl.content.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(acl).toEqual([
      ...SIMULATED_MQTT[stack].flatMap((id) => [`user ${id}`, `topic write devices/${site}/${id}/readings`]),
      "user bridge",
      "topic read devices/+/+/readings",
      "user broker-health",
      "topic read $SYS/broker/uptime",
    ]);
    // the CRL covers every device certificate, and only devices' (the stack's own clients are not revocable by config)
    const crl = one(r, "pulumi-nodejs:dynamic:Resource", "device-crl").inputs;
    expect(Object.keys(crl.certificates).sort()).toEqual([...SIMULATED_MQTT[stack]].sort());
    for (const id of SIMULATED_MQTT[stack]) expect(crl.certificates[id]).toContain(`MOCK-CERT-pki-client-${id}-cert`);
    expect(crl.caCertPem).toContain("MOCK-CERT-pki-ca");
    expect(crl.caKeyPkcs8Pem).toContain("MOCK-PKCS8-KEY-pki-ca-key");
    expect(one(r, "pulumi-nodejs:dynamic:Resource", "device-crl").secretInputs).toContain("caKeyPkcs8Pem");
    // the health check is a real MQTT round trip with that identity
    const health = container(r, "broker").inputs.healthcheck.tests;
    expect(health.slice(0, 2)).toEqual(["CMD", "mosquitto_sub"]);
    expect(health).toEqual(expect.arrayContaining(["--cert", "/etc/iot/broker/health/client.crt", "--key", "/etc/iot/broker/health/client.key", "$SYS/broker/uptime"]));
    expect(container(r, "broker").inputs).toMatchObject({ user: "1883:1883", command: ["mosquitto", "-c", "/etc/iot/broker/mosquitto.conf"] });
  });

  mqttTest("MQTT: the bridge's own identity and files; TLS to the broker and to InfluxDB verified with the stack CA on names in their certificates", () => {
    const r = run();
    const files = uploads(loader(r, "bridge"));
    expect(Object.keys(files).sort()).toEqual(["telegraf.conf", "tls/ca.pem", "tls/client.crt", "tls/client.key"]);
    expect(loader(r, "bridge").secretInputs).toEqual(["uploads"]);
    expect(one(r, "tls:index/certRequest:CertRequest", "pki-client-bridge-csr").inputs.subject.commonName).toBe("bridge");
    expect(one(r, "tls:index/certRequest:CertRequest", "pki-client-broker-health-csr").inputs.subject.commonName).toBe("broker-health");
    expect(files["tls/client.crt"].content).toContain("MOCK-CERT-pki-client-bridge-cert");
    expect(files["tls/client.key"].content).toContain("MOCK-PKCS8-KEY-pki-client-bridge-key");
    expect(files["tls/ca.pem"].content).toContain("MOCK-CERT-pki-ca");
    const conf = files["telegraf.conf"].content;
    const brokerUrl = /^ {2}servers = \["([^"]+)"\]$/m.exec(conf)![1];
    const influxUrl = /^ {2}urls = \["([^"]+)"\]$/m.exec(conf)![1];
    expect(brokerUrl).toBe("ssl://broker:8883");
    expect(influxUrl).toBe("https://influxdb:8086");
    const brokerCsr = one(r, "tls:index/certRequest:CertRequest", "pki-broker-csr").inputs;
    expect(brokerCsr.dnsNames).toEqual(expect.arrayContaining([new URL(brokerUrl).hostname, "localhost"]));
    expect(brokerCsr.ipAddresses).toEqual(["127.0.0.1"]);
    expect(one(r, "tls:index/certRequest:CertRequest", "pki-influxdb-csr").inputs.dnsNames).toContain(new URL(influxUrl).hostname);
    expect(new URL(env(container(r, "mqtt-simulator")).MQTT_URL).hostname).toBe(new URL(brokerUrl).hostname);
    const brokerFiles = uploads(loader(r, "broker"));
    expect(brokerFiles["tls/server.crt"].content).toContain("MOCK-CERT-pki-broker-cert");
    expect(brokerFiles["tls/ca.pem"].content).toContain("MOCK-CERT-pki-ca");
    expect(container(r, "bridge").inputs).toMatchObject({ user: "10002:10002", command: ["telegraf", "--strict-env-handling", "--config", "/etc/iot/bridge/telegraf.conf"] });
  });
});

describe("variants", () => {
  test("TLS off (with the opt-out; devices need TLS, so none): no certificates, plain http everywhere, no CA handed out", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev", { tlsEnabled: false, allowPlaintext: true, simMqttDevices: 0 }));
    expect(ofType(r, "tls:index/privateKey:PrivateKey")).toEqual([]);
    expect(env(container(r, "simulator")).INFLUX_URL).toBe("http://influxdb:8086");
    expect(env(container(r, "simulator")).INFLUX_CA_FILE).toBeUndefined();
    expect(env(container(r, "influxdb")).INFLUXD_TLS_CERT).toBeUndefined();
    expect(env(container(r, "grafana")).GF_SERVER_PROTOCOL).toBe("http");
    expect(env(container(r, "grafana")).GF_SECURITY_COOKIE_SECURE).toBe("false");
    expect(r.exports.grafanaUrl).toBe("http://localhost:3000");
  });

  test("publishing InfluxDB binds 127.0.0.1 only", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev", { influxPublishPort: true, influxHostPort: 18086 }));
    expect(container(r, "influxdb").inputs.ports).toEqual([{ internal: 8086, external: 18086, ip: "127.0.0.1", protocol: "tcp" }]);
  });

  test("external names go into Grafana's certificate and its root URL", async () => {
    const r = await runUnderMocks("prod", stackConfig("prod", { grafanaExternalNames: ["grafana.site-1.example", "192.0.2.10"], grafanaBindAddress: "192.0.2.10" }));
    const csr = one(r, "tls:index/certRequest:CertRequest", "pki-grafana-csr").inputs;
    expect(csr.dnsNames).toEqual(expect.arrayContaining(["grafana.site-1.example", "grafana", "localhost"]));
    expect(csr.ipAddresses).toEqual(expect.arrayContaining(["192.0.2.10", "127.0.0.1"]));
    expect(env(container(r, "grafana")).GF_SERVER_ROOT_URL).toBe("https://grafana.site-1.example:3000/");
    expect(container(r, "grafana").inputs.ports[0].ip).toBe("192.0.2.10");
  });

  test("a chosen Grafana password is used instead of a generated one", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev", { grafanaAdminPassword: "correct-horse-battery-staple" }));
    expect(r.resources.some((x) => x.name === "credentials-grafana-admin-password")).toBe(false);
    expect(uploads(loader(r, "grafana"))["secrets/admin-password"].content).toBe("correct-horse-battery-staple");
    expect(await isSecret(r.pulumi, r.exports.grafanaAdminPassword)).toBe(true);
  });

  test("the Docker host's platform, not the machine running Pulumi, decides what is built and pulled", async () => {
    for (const platform of ["linux/amd64", "linux/arm64"]) {
      const r = await runUnderMocks("dev", stackConfig("dev", { dockerPlatform: platform }));
      expect(one(r, "docker:index/image:Image", "simulator-image").inputs.build.platform).toBe(platform);
      for (const image of ofType(r, "docker:index/remoteImage:RemoteImage")) expect({ name: image.name, platform: image.inputs.platform }).toEqual({ name: image.name, platform });
    }
  });

  test("the simulator image is built without extra CAs by default, and with the given ones as a build argument", async () => {
    const plain = await runUnderMocks("dev", stackConfig("dev"));
    expect(one(plain, "docker:index/image:Image", "simulator-image").inputs.build.args).toBeUndefined();
    const pemFile = join(mkdtempSync(join(tmpdir(), "ca-")), "proxy-ca.pem");
    writeFileSync(pemFile, "-----BEGIN CERTIFICATE-----\nPROXY-CA\n-----END CERTIFICATE-----\n");
    const r = await runUnderMocks("dev", stackConfig("dev", { buildCaCertsFile: pemFile }));
    expect(one(r, "docker:index/image:Image", "simulator-image").inputs.build.args).toEqual({ BUILD_CA_CERTS: readFileSync(pemFile, "utf8") });
  });

  test("the simulator and its loader run the built image by its id, never by a tag Docker could try to pull", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev"));
    expect(container(r, "simulator").inputs.image).toBe("sha256:mock-local-image-id-of-simulator-image");
    expect(loader(r, "simulator").inputs.image).toBe("sha256:mock-local-image-id-of-simulator-image");
  });

  test("restart policy unless-stopped has no retry count", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev", { restartPolicy: "unless-stopped" }));
    for (const c of serviceContainers(r)) {
      expect(c.inputs.restart).toBe("unless-stopped");
      expect(c.inputs.maxRetryCount).toBeUndefined();
    }
  });
});

describe("devices over MQTT", () => {
  const CERT = "tls:index/locallySignedCert:LocallySignedCert";
  const CSR = "tls:index/certRequest:CertRequest";
  const KEY = "tls:index/privateKey:PrivateKey";
  const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
  /** every resource of the MQTT path, by a name any of them has */
  const mqttResources = (r: Run) =>
    r.resources.filter((x) => /^(broker|bridge|mqtt-simulator|device-crl|pki-client-|pki-broker-)/.test(x.name) || /Mqtt|DeviceBridge/.test(x.type));

  test.each([
    ["prod", {}],
    ["dev", { simMqttDevices: 0 }],
    ["dev", { simMqttDevices: 0, devices: [] }],
  ] as const)("%s with %j: no broker, bridge, CRL, client certificate, MQTT output", async (stack, overrides) => {
    const r = await runUnderMocks(stack, stackConfig(stack, overrides));
    expect(mqttResources(r).map((x) => x.name)).toEqual([]);
    expect(ofType(r, CERT).map((c) => c.name).sort()).toEqual(["pki-grafana-cert", "pki-influxdb-cert"]);
    expect(ofType(r, DYNAMIC).map((d) => d.name)).toEqual(["influxdb-setup"]);
    expect(serviceContainers(r).map((c) => c.name).sort()).toEqual(["grafana-container", "influxdb-container", "simulator-container"]);
    expect(r.exports.mqtt).toBeUndefined();
    expect(r.exports.deviceKeys).toBeUndefined();
    expect(JSON.stringify(r.resources.map((x) => x.inputs))).not.toMatch(/8883|mosquitto|telegraf/);
  });

  describe("declared devices (prod, broker on a LAN address)", () => {
    const DEVICES = ["pump-7", { id: "tank-1", site: "plant-2" }];
    const overrides = { devices: DEVICES, mqttBindAddress: "192.0.2.10", mqttPort: 18883, mqttExternalNames: ["broker.site-1.example", "192.0.2.10"] };
    let r: Run;
    beforeAll(async () => {
      r = await runUnderMocks("prod", stackConfig("prod", overrides));
    });

    test("one key, request and client certificate per device: CN = the id, client auth only, the stack's validity and early renewal", () => {
      const prod = stackConfig("prod");
      for (const id of ["pump-7", "tank-1"]) {
        expect(one(r, KEY, `pki-client-${id}-key`).inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
        expect(one(r, CSR, `pki-client-${id}-csr`).inputs.subject).toEqual({ commonName: id, organization: "secure-iot prod" });
        // a client certificate names no host: nothing but its CN identifies it
        expect(one(r, CSR, `pki-client-${id}-csr`).inputs.dnsNames).toBeUndefined();
        const cert = one(r, CERT, `pki-client-${id}-cert`).inputs;
        expect(cert.allowedUses).toEqual(["digital_signature", "client_auth"]);
        expect(cert.isCaCertificate ?? false).toBe(false);
        expect(cert.validityPeriodHours).toBe(Number(prod["secure-iot:certValidityHours"]));
        expect(cert.earlyRenewalHours).toBe(Number(prod["secure-iot:certEarlyRenewalHours"]));
        expect(cert.certRequestPem).toContain(`MOCK-CSR-pki-client-${id}-csr`);
        expect(cert.caCertPem).toContain("MOCK-CERT-pki-ca");
      }
      expect(ofType(r, CERT).map((c) => c.name).sort()).toEqual(
        ["pki-grafana-cert", "pki-influxdb-cert", "pki-broker-cert", "pki-client-bridge-cert", "pki-client-broker-health-cert", "pki-client-pump-7-cert", "pki-client-tank-1-cert"].sort(),
      );
      // the bridge and the health check are clients too, never servers
      for (const id of ["bridge", "broker-health"]) expect(one(r, CERT, `pki-client-${id}-cert`).inputs.allowedUses).toEqual(["digital_signature", "client_auth"]);
      expect(one(r, CERT, "pki-broker-cert").inputs.allowedUses).not.toContain("client_auth");
    });

    test("the ACL grants each device exactly its own topic under its site; the CRL is handed every device's certificate", () => {
      const acl = uploads(one(r, CONTAINER, "broker-files-loader")).acl.content;
      const grants = acl.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
      expect(grants).toEqual([
        "user pump-7",
        "topic write devices/site-1/pump-7/readings",
        "user tank-1",
        "topic write devices/plant-2/tank-1/readings",
        "user bridge",
        "topic read devices/+/+/readings",
        "user broker-health",
        "topic read $SYS/broker/uptime",
      ]);
      const crl = one(r, DYNAMIC, "device-crl").inputs;
      expect(Object.keys(crl.certificates).sort()).toEqual(["pump-7", "tank-1"]);
      expect(crl.certificates["tank-1"]).toContain("MOCK-CERT-pki-client-tank-1-cert");
    });

    test("the broker publishes only on mqttBindAddress:mqttPort; its certificate names mqttExternalNames; no MQTT simulator without simMqttDevices", () => {
      expect(serviceContainers(r).filter((c) => (c.inputs.ports ?? []).length > 0).map((c) => [c.name, c.inputs.ports])).toEqual([
        ["grafana-container", [{ internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" }]],
        ["broker-container", [{ internal: 8883, external: 18883, ip: "192.0.2.10", protocol: "tcp" }]],
      ]);
      const csr = one(r, CSR, "pki-broker-csr").inputs;
      expect([...csr.dnsNames].sort()).toEqual(["broker", "broker.site-1.example", "localhost"]);
      expect([...csr.ipAddresses].sort()).toEqual(["127.0.0.1", "192.0.2.10"]);
      expect(r.resources.some((x) => x.name.startsWith("mqtt-simulator"))).toBe(false);
      expect(ofType(r, CONTAINER).some((c) => c.name === "bridge-container")).toBe(true);
    });

    test("outputs: each device's site, topic, certificate and expiry in clear; the keys only as a secret, and in no container", async () => {
      const mqtt = (await resolveDeep(r.pulumi, r.exports.mqtt)) as any;
      expect(await isSecretDeep(r.pulumi, r.exports.mqtt)).toBe(false);
      expect(mqtt).toEqual({
        host: "broker.site-1.example",
        port: 18883,
        devices: {
          "pump-7": { site: "site-1", topic: "devices/site-1/pump-7/readings", certPem: expect.stringContaining("MOCK-CERT-pki-client-pump-7-cert"), notAfter: MOCK_NOT_AFTER },
          "tank-1": { site: "plant-2", topic: "devices/plant-2/tank-1/readings", certPem: expect.stringContaining("MOCK-CERT-pki-client-tank-1-cert"), notAfter: MOCK_NOT_AFTER },
        },
      });
      expect(JSON.stringify(mqtt)).not.toMatch(/PRIVATE KEY/);
      expect(await isSecretDeep(r.pulumi, r.exports.deviceKeys)).toBe(true);
      const keys = (await resolveDeep(r.pulumi, r.exports.deviceKeys)) as Record<string, string>;
      expect(Object.keys(keys).sort()).toEqual(["pump-7", "tank-1"]);
      // PKCS#8, as the design's deviceKeys output says (the mock marks which form it is)
      expect(keys["pump-7"]).toBe("-----BEGIN PRIVATE KEY-----\nMOCK-PKCS8-KEY-pki-client-pump-7-key\n-----END PRIVATE KEY-----\n");
      // a real device's key is made for the device, and no container of the stack holds it
      for (const c of ofType(r, CONTAINER)) expect({ container: c.name, hasKey: JSON.stringify(c.inputs).includes("MOCK-PKCS8-KEY-pki-client-pump-7-key") }).toEqual({ container: c.name, hasKey: false });
    });
  });

  test("removing a device removes its certificate and ACL lines and replaces the broker; the other device's certificate is untouched", async () => {
    const run = (devices: unknown[]) => runUnderMocks("prod", stackConfig("prod", { devices }), undefined, { containerIdsFromInputs: true });
    const before = await run(["pump-7", "tank-1"]);
    const after = await run(["tank-1"]);
    const pkiOf = (r: Run, id: string) => r.resources.filter((x) => x.name.startsWith(`pki-client-${id}-`)).map((x) => [x.type, x.name, x.inputs]);

    expect(pkiOf(before, "pump-7")).toHaveLength(3);
    expect(pkiOf(after, "pump-7")).toEqual([]);
    expect(pkiOf(after, "tank-1")).toHaveLength(3);
    expect(pkiOf(after, "tank-1")).toEqual(pkiOf(before, "tank-1"));
    for (const id of ["bridge", "broker-health"]) expect(pkiOf(after, id)).toEqual(pkiOf(before, id));

    const acl = (r: Run) => uploads(one(r, CONTAINER, "broker-files-loader")).acl.content;
    expect(acl(before)).toMatch(/^user pump-7$/m);
    expect(acl(after)).not.toMatch(/pump-7/);
    expect(acl(after)).toMatch(/^user tank-1\ntopic write devices\/site-1\/tank-1\/readings$/m);
    // the CRL resource sees the device gone (and so revokes its certificate: components/device-crl.ts)
    expect(Object.keys(one(after, DYNAMIC, "device-crl").inputs.certificates)).toEqual(["tank-1"]);

    // the broker's files changed, so its loader is replaced and the broker with it (its label is the loader's id):
    // every session, the removed device's included, is closed
    const label = (r: Run, name: string) => container(r, name).inputs.labels.find((l: { label: string }) => l.label === "iot.files-revision").value;
    expect(label(before, "broker")).toBe(loader(before, "broker").id);
    expect(label(after, "broker")).toBe(loader(after, "broker").id);
    expect(label(after, "broker")).not.toBe(label(before, "broker"));
    expect(container(after, "broker").id).not.toBe(container(before, "broker").id);
    // the bridge, whose files did not change, is not recreated
    expect(container(after, "bridge").id).toBe(container(before, "bridge").id);
  });
});
