import { CONTAINER, env, one, resolve, runUnderMocks, uploads } from "../support/harness";
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
      platform: "linux/arm64",
      limits: LIMITS,
      policy: POLICY,
      protectData: options.protectData ?? false,
    });
    return {
      url: influx.url,
      protected: (influx.dataVolume as any).__protect,
      simulatorToken: influx.simulatorToken.volumeName,
      bridgeToken: influx.bridgeToken.volumeName,
      grafanaToken: influx.grafanaToken.volumeName,
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
      DOCKER_INFLUXDB_INIT_PASSWORD_FILE: "/etc/iot/influxdb/secrets/admin-password",
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE: "/etc/iot/influxdb/secrets/operator-token",
      DOCKER_INFLUXDB_INIT_ORG: "iot",
      DOCKER_INFLUXDB_INIT_BUCKET: "sensors",
      DOCKER_INFLUXDB_INIT_RETENTION: "30d",
      HANDOFF_DIR: "/etc/iot/handoff",
      INFLUX_CONFIGS_PATH: "/etc/influxdb2/influx-configs",
      INFLUXD_HTTP_BIND_ADDRESS: ":8086",
      INFLUXD_REPORTING_DISABLED: "true",
      INFLUXD_PPROF_DISABLED: "true",
      INFLUXD_METRICS_DISABLED: "true",
      INFLUXD_HARDENING_ENABLED: "true",
      INFLUXD_TLS_CERT: "/etc/iot/influxdb/tls/server.crt",
      INFLUXD_TLS_KEY: "/etc/iot/influxdb/tls/server.key",
      INFLUXD_TLS_MIN_VERSION: "1.3",
    });
    expect(c.inputs.user).toBe("1000:1000");
    // the entrypoint writes /tmp/config.json during setup; the CLI config (operator token) goes to a
    // tmpfs, so it is never persisted and a failed first setup leaves nothing that blocks a retry
    expect(Object.keys(c.inputs.tmpfs).sort()).toEqual(["/etc/influxdb2", "/tmp"]);
    expect(env(c).INFLUX_CONFIGS_PATH.startsWith("/etc/influxdb2/")).toBe(true);
    // owned by influxdb: a tmpfs is otherwise root's, with the image directory's 0755
    expect(c.inputs.tmpfs["/etc/influxdb2"]).toBe("rw,noexec,nosuid,nodev,size=1m,uid=1000,gid=1000");
    expect(run.exports.url).toBe("https://influxdb:8086");
  });

  test("volumes, none with subpaths (Engine 20.10): data; files and init script read-only; one token volume per consumer", async () => {
    const run = await build();
    const mounts = one(run, CONTAINER, "influxdb-container").inputs.mounts;
    expect(mounts).toEqual([
      { type: "volume", source: "iot-t-influxdb-data", target: "/var/lib/influxdb2" },
      { type: "volume", source: "iot-t-influxdb-backups", target: "/var/lib/influxdb2-backups" },
      { type: "volume", source: "iot-t-influxdb-files", target: "/etc/iot/influxdb", readOnly: true },
      { type: "volume", source: "iot-t-influxdb-initdb", target: "/docker-entrypoint-initdb.d", readOnly: true },
      { type: "volume", source: "iot-t-influxdb-token-simulator", target: "/etc/iot/handoff/simulator" },
      { type: "volume", source: "iot-t-influxdb-token-grafana", target: "/etc/iot/handoff/grafana" },
      { type: "volume", source: "iot-t-influxdb-token-bridge", target: "/etc/iot/handoff/bridge" },
    ]);
    expect(JSON.stringify(mounts)).not.toMatch(/volumeOptions|subpath/);
    const files = uploads(one(run, CONTAINER, "influxdb-files-loader"));
    expect(Object.keys(files).sort()).toEqual(["secrets/admin-password", "secrets/operator-token", "tls/ca.pem", "tls/server.crt", "tls/server.key"]);
    expect(files["secrets/operator-token"]).toMatchObject({ content: "OPERATOR-TOKEN", owner: "1000", permissions: "0444" });
    expect(files["tls/server.key"]).toMatchObject({ content: "SERVER-KEY", owner: "1000", permissions: "0444" });
    const initdb = uploads(one(run, CONTAINER, "influxdb-initdb-loader"));
    expect(Object.keys(initdb)).toEqual(["10-scoped-tokens.sh"]);
    expect(initdb["10-scoped-tokens.sh"]).toMatchObject({ owner: "0", permissions: "0555" });
    expect(initdb["10-scoped-tokens.sh"].content).toMatch(/--write-bucket/);
    expect(await resolve(run.pulumi, run.exports.simulatorToken)).toBe("iot-t-influxdb-token-simulator");
    expect(await resolve(run.pulumi, run.exports.grafanaToken)).toBe("iot-t-influxdb-token-grafana");
    expect(await resolve(run.pulumi, run.exports.bridgeToken)).toBe("iot-t-influxdb-token-bridge");
  });

  test("token volumes start empty and owned like the image's /etc/influxdb2 (influxdb, 1000), so setup can write them", async () => {
    const run = await build();
    for (const consumer of ["simulator", "grafana", "bridge"]) {
      const loader = one(run, CONTAINER, `influxdb-token-${consumer}-loader`).inputs;
      expect(loader.mounts).toEqual([{ type: "volume", source: `iot-t-influxdb-token-${consumer}`, target: "/etc/influxdb2" }]);
      expect(loader.uploads).toEqual([]);
      expect(loader.image).toBe("sha256:mock-image-id-of-influxdb-image");
      expect(loader).toMatchObject({ start: false, mustRun: false, networkMode: "none" });
    }
  });

  test("setup-only values are guarded: the container comes after the guard that refuses to change them", async () => {
    const run = await build();
    const guard = one(run, "pulumi-nodejs:dynamic:Resource", "influxdb-setup").inputs;
    expect(guard).toMatchObject({ org: "iot", bucket: "sensors", retention: "30d", adminUser: "admin" });
    expect(guard.credentialsDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(guard)).not.toContain("ADMIN-PASSWORD");
  });

  test("health: /health over TLS verified with the CA, through localhost (in the certificate)", async () => {
    const run = await build();
    expect(one(run, CONTAINER, "influxdb-container").inputs.healthcheck.tests).toEqual([
      "CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", "/etc/iot/influxdb/tls/ca.pem", "https://localhost:8086/health",
    ]);
  });

  test("not published by default; when asked, on 127.0.0.1 only", async () => {
    expect(one(await build(), CONTAINER, "influxdb-container").inputs.ports ?? []).toEqual([]);
    const published = one(await build({ publish: 18086 }), CONTAINER, "influxdb-container").inputs;
    expect(published.ports).toEqual([{ internal: 8086, external: 18086, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(published.networksAdvanced.map((n: { name: string }) => n.name)).toEqual(["iot-t-backend", "iot-t-frontend"]);
  });

  test("the data volume is protected when asked", async () => {
    expect((await build({ protectData: true })).exports.protected).toBe(true);
    expect((await build({ protectData: false })).exports.protected).toBe(false);
  });

  test("the image is pulled for the Docker host's platform", async () => {
    expect(one(await build(), "docker:index/remoteImage:RemoteImage", "influxdb-image").inputs.platform).toBe("linux/arm64");
  });

  test("TLS 1.2 allowed: only influxd's strict ECDHE AEAD suites (its list has ECDHE-ECDSA ones for our keys)", async () => {
    const run = await runUnderMocks("dev", {}, (pulumi) => {
      const { InfluxDb } = require("../../components/influxdb");
      new InfluxDb("influxdb", {
        namePrefix: "iot-t", backendNetworkName: "b", frontendNetworkName: "f", alias: "influxdb", org: "iot", bucket: "sensors",
        retention: "30d", adminUser: "admin", adminPassword: pulumi.secret("P"), operatorToken: pulumi.secret("T"),
        tls: { ...TLS(pulumi), minVersion: "1.2" }, platform: "linux/amd64", limits: LIMITS, policy: POLICY, protectData: false,
      });
      return {};
    });
    expect(env(one(run, CONTAINER, "influxdb-container"))).toMatchObject({ INFLUXD_TLS_MIN_VERSION: "1.2", INFLUXD_TLS_STRICT_CIPHERS: "true" });
  });

  test("without TLS: no certificate files, plain http health check", async () => {
    const run = await build({ tls: false });
    const c = one(run, CONTAINER, "influxdb-container");
    expect(env(c).INFLUXD_TLS_CERT).toBeUndefined();
    expect(c.inputs.healthcheck.tests.at(-1)).toBe("http://localhost:8086/health");
    expect(Object.keys(uploads(one(run, CONTAINER, "influxdb-files-loader")))).not.toContain("tls/server.key");
  });
});
