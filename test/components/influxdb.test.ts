import { CONTAINER, env, one, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY, TLS } from "./support";

function build(options: { tls?: boolean; publish?: number; protectData?: boolean } = {}) {
  return runUnderMocks("dev", {}, (pulumi) => {
    const { InfluxDb } = require("../../components/influxdb");
    const influx = new InfluxDb("influxdb", {
      namePrefix: "iot-t",
      backendNetworkName: "iot-t-backend",
      frontendNetworkName: "iot-t-frontend",
      alias: "influxdb",
      org: "iot",
      bucket: "sensors",
      retention: "30d",
      adminUser: "admin",
      adminPassword: pulumi.secret("ADMIN-PASSWORD"),
      operatorToken: pulumi.secret("OPERATOR-TOKEN"),
      tls: options.tls === false ? undefined : TLS(pulumi),
      publishHostPort: options.publish,
      limits: LIMITS,
      policy: POLICY,
      protectData: options.protectData ?? false,
    });
    return {
      url: influx.url,
      protected: [(influx.dataVolume as any).__protect, (influx.configVolume as any).__protect],
      simulatorToken: influx.simulatorToken.subpath,
      grafanaToken: influx.grafanaToken.subpath,
    };
  });
}

describe("InfluxDb alone", () => {
  test("first-run setup from the image's variables, secrets by file, reporting and pprof off, TLS 1.3", async () => {
    const run = await build();
    const c = one(run, CONTAINER, "influxdb-container");
    expect(c.inputs.image).toBe("sha256:mock-image-id-of-influxdb-image");
    expect(one(run, "docker:index/remoteImage:RemoteImage", "influxdb-image").inputs.name).toMatch(/^influxdb:2\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    expect(env(c)).toEqual({
      DOCKER_INFLUXDB_INIT_MODE: "setup",
      DOCKER_INFLUXDB_INIT_USERNAME: "admin",
      DOCKER_INFLUXDB_INIT_PASSWORD_FILE: "/run/secrets/influxdb/admin-password",
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE: "/run/secrets/influxdb/operator-token",
      DOCKER_INFLUXDB_INIT_ORG: "iot",
      DOCKER_INFLUXDB_INIT_BUCKET: "sensors",
      DOCKER_INFLUXDB_INIT_RETENTION: "30d",
      INFLUXD_HTTP_BIND_ADDRESS: ":8086",
      INFLUXD_REPORTING_DISABLED: "true",
      INFLUXD_PPROF_DISABLED: "true",
      INFLUXD_TLS_CERT: "/etc/iot/tls/server.crt",
      INFLUXD_TLS_KEY: "/etc/iot/tls/server.key",
      INFLUXD_TLS_MIN_VERSION: "1.3",
    });
    expect(c.inputs.user).toBe("1000:1000");
    // the entrypoint writes /tmp/config.json during setup
    expect(Object.keys(c.inputs.tmpfs)).toEqual(["/tmp"]);
    expect(run.exports.url).toBe("https://influxdb:8086");
  });

  test("volumes: data and config on the image's own VOLUME paths; staged files by subpath, read-only", async () => {
    const run = await build();
    const mounts = one(run, CONTAINER, "influxdb-container").inputs.mounts;
    expect(mounts).toEqual([
      { type: "volume", source: "iot-t-influxdb-data", target: "/var/lib/influxdb2" },
      { type: "volume", source: "iot-t-influxdb-config", target: "/etc/influxdb2" },
      { type: "volume", source: "iot-t-influxdb-files", target: "/run/secrets/influxdb", readOnly: true, volumeOptions: { subpath: "secrets", noCopy: true } },
      { type: "volume", source: "iot-t-influxdb-files", target: "/docker-entrypoint-initdb.d", readOnly: true, volumeOptions: { subpath: "initdb", noCopy: true } },
      { type: "volume", source: "iot-t-influxdb-files", target: "/etc/iot/tls", readOnly: true, volumeOptions: { subpath: "tls", noCopy: true } },
    ]);
    const files = uploads(one(run, CONTAINER, "influxdb-files-loader"));
    expect(Object.keys(files).sort()).toEqual([
      "initdb/10-scoped-tokens.sh",
      "secrets/admin-password",
      "secrets/operator-token",
      "tls/ca.pem",
      "tls/server.crt",
      "tls/server.key",
    ]);
    expect(files["secrets/operator-token"]).toMatchObject({ content: "OPERATOR-TOKEN", owner: "1000", permissions: "0400" });
    expect(files["tls/server.key"]).toMatchObject({ content: "SERVER-KEY", owner: "1000", permissions: "0400" });
    expect(files["initdb/10-scoped-tokens.sh"]).toMatchObject({ owner: "0", permissions: "0555" });
    expect(files["initdb/10-scoped-tokens.sh"].content).toMatch(/--write-bucket/);
    expect(run.exports.simulatorToken).toBe("handoff/simulator");
    expect(run.exports.grafanaToken).toBe("handoff/grafana");
  });

  test("health: /health over TLS verified with the CA, through localhost (in the certificate)", async () => {
    const run = await build();
    expect(one(run, CONTAINER, "influxdb-container").inputs.healthcheck.tests).toEqual([
      "CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", "/etc/iot/tls/ca.pem", "https://localhost:8086/health",
    ]);
  });

  test("not published by default; when asked, on 127.0.0.1 only", async () => {
    expect(one(await build(), CONTAINER, "influxdb-container").inputs.ports ?? []).toEqual([]);
    const published = one(await build({ publish: 18086 }), CONTAINER, "influxdb-container").inputs;
    expect(published.ports).toEqual([{ internal: 8086, external: 18086, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(published.networksAdvanced.map((n: { name: string }) => n.name)).toEqual(["iot-t-backend", "iot-t-frontend"]);
  });

  test("data volumes are protected when asked", async () => {
    expect((await build({ protectData: true })).exports.protected).toEqual([true, true]);
    expect((await build({ protectData: false })).exports.protected).toEqual([false, false]);
  });

  test("without TLS: no certificate files, plain http health check", async () => {
    const run = await build({ tls: false });
    const c = one(run, CONTAINER, "influxdb-container");
    expect(env(c).INFLUXD_TLS_CERT).toBeUndefined();
    expect(c.inputs.healthcheck.tests.at(-1)).toBe("http://localhost:8086/health");
    expect(Object.keys(uploads(one(run, CONTAINER, "influxdb-files-loader")))).not.toContain("tls/server.key");
  });
});
