// The whole program, for each shipped stack, under Pulumi mocks: which resources exist with which
// inputs, what must never be there, the hardening of every container, TLS wiring, start order,
// and which outputs are secret.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  CONTAINER,
  env,
  isSecret,
  ofType,
  one,
  runUnderMocks,
  serviceContainers,
  stackConfig,
  uploads,
  type RecordedResource,
  type Run,
} from "./support/harness";

const STACKS = ["dev", "prod"] as const;
const runs: Record<string, Run> = {};

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

  test("the expected resources: two networks, a CA and two server certificates, three services, their file volumes", () => {
    const r = run();
    expect(ofType(r, "docker:index/network:Network").map((n) => n.name).sort()).toEqual(["network-backend", "network-frontend"]);
    expect(serviceContainers(r).map((c) => c.name).sort()).toEqual(["grafana-container", "influxdb-container", "simulator-container"]);
    expect(ofType(r, CONTAINER).filter((c) => c.inputs.start === false).map((c) => c.name).sort()).toEqual([
      "grafana-files-loader",
      "influxdb-files-loader",
      "influxdb-initdb-loader",
      "influxdb-token-grafana-loader",
      "influxdb-token-simulator-loader",
      "simulator-files-loader",
    ]);
    expect(ofType(r, "pulumi-nodejs:dynamic:Resource").map((g) => g.name)).toEqual(["influxdb-setup"]);
    expect(ofType(r, "tls:index/selfSignedCert:SelfSignedCert")).toHaveLength(1);
    expect(ofType(r, "tls:index/locallySignedCert:LocallySignedCert").map((c) => c.name).sort()).toEqual(["pki-grafana-cert", "pki-influxdb-cert"]);
    expect(ofType(r, "docker:index/image:Image").map((i) => i.name)).toEqual(["simulator-image"]);
    for (const component of ["iot:index:Network", "iot:index:Pki", "iot:index:Credentials", "iot:index:InfluxDb", "iot:index:Grafana", "iot:index:Simulator"]) {
      expect(ofType(r, component)).toHaveLength(1);
    }
  });

  test("the backend network is internal; only the frontend can route out", () => {
    expect(one(run(), "docker:index/network:Network", "network-backend").inputs.internal).toBe(true);
    expect(one(run(), "docker:index/network:Network", "network-frontend").inputs.internal).toBe(false);
  });

  test("InfluxDB and the simulator are on the backend only; Grafana on both; only Grafana publishes a port, on loopback", () => {
    const r = run();
    const networks = (c: RecordedResource) => c.inputs.networksAdvanced.map((n: { name: string }) => n.name).sort();
    expect(networks(container(r, "influxdb"))).toEqual([`iot-${stack}-backend`]);
    expect(networks(container(r, "simulator"))).toEqual([`iot-${stack}-backend`]);
    expect(networks(container(r, "grafana"))).toEqual([`iot-${stack}-backend`, `iot-${stack}-frontend`]);
    expect(container(r, "influxdb").inputs.ports ?? []).toEqual([]);
    expect(container(r, "simulator").inputs.ports ?? []).toEqual([]);
    expect(container(r, "grafana").inputs.ports).toEqual([{ internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" }]);
  });

  test("every service container is hardened", () => {
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
    for (const service of ["influxdb", "grafana", "simulator"]) {
      expect(mountersOf(`iot-${stack}-${service}-files`)).toEqual([`${service}-container`]);
      const mount = container(r, service).inputs.mounts.find((m: { source: string }) => m.source === `iot-${stack}-${service}-files`);
      expect(mount.readOnly).toBe(true);
    }
    for (const consumer of ["simulator", "grafana"]) {
      expect(mountersOf(`iot-${stack}-influxdb-token-${consumer}`).sort()).toEqual([`${consumer}-container`, "influxdb-container"].sort());
    }
    // so a mode every uid can read exposes nothing: files are never writable, secrets included
    for (const l of ofType(r, CONTAINER).filter((c) => c.inputs.start === false)) {
      for (const upload of l.inputs.uploads ?? []) expect(["0444", "0555"]).toContain(upload.permissions);
    }
  });

  test("Node runs under an init process; the images with their own entrypoint do not need one", () => {
    expect(container(run(), "simulator").inputs.init).toBe(true);
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
      expect(image.inputs.name).toMatch(/^[a-z/]+:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
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
    for (const name of ["simulator", "grafana"]) {
      expect(text(container(r, name))).not.toContain(operatorToken);
      expect(text(loader(r, name))).not.toContain(operatorToken);
      expect(text(loader(r, name))).not.toContain(influxPassword);
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
});

describe("variants", () => {
  test("TLS off (with the opt-out): no certificates, plain http everywhere, no CA handed out", async () => {
    const r = await runUnderMocks("dev", stackConfig("dev", { tlsEnabled: false, allowPlaintext: true }));
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
