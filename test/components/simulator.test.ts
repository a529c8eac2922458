import { join } from "node:path";
import { sourceHash } from "../../components/simulator";
import { CONTAINER, ROOT, env, one, resolve, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY } from "./support";

function build(options: { buildCaCerts?: string } = {}) {
  return runUnderMocks("dev", {}, (pulumi) => {
    const docker = require("@pulumi/docker");
    const { Simulator } = require("../../components/simulator");
    const influxContainer = new docker.Container("influx", { image: "x" });
    const sim = new Simulator("simulator", {
      namePrefix: "iot-t",
      sourceDir: join(ROOT, "simulator"),
      backendNetworkName: "iot-t-backend",
      influx: {
        url: "https://influxdb:8086",
        org: "iot",
        bucket: "sensors",
        writeToken: { volumeName: pulumi.output("iot-t-influxdb-token-simulator") },
        caCertPem: "CA",
      },
      devices: 42,
      intervalMs: 2000,
      site: "plant-7",
      seed: 9,
      logLevel: "warn",
      platform: "linux/arm64",
      buildCaCerts: options.buildCaCerts,
      startAfter: influxContainer,
      limits: LIMITS,
      policy: POLICY,
    });
    return { image: sim.imageRef };
  });
}

describe("Simulator alone", () => {
  test("its image is built from simulator/ without a registry, tagged by the source hash", async () => {
    const run = await build();
    const image = one(run, "docker:index/image:Image", "simulator-image").inputs;
    const version = require(join(ROOT, "simulator", "package.json")).version;
    expect(image.imageName).toBe(`iot-t-simulator:${version}-${sourceHash(join(ROOT, "simulator")).slice(0, 12)}`);
    expect(image.skipPush).toBe(true);
    expect(image.build).toEqual({ context: join(ROOT, "simulator"), dockerfile: join(ROOT, "simulator", "Dockerfile"), platform: "linux/arm64" });
    expect(await resolve(run.pulumi, run.exports.image)).toBe(image.imageName);
    // run by the id the build produced, not by the tag
    expect(one(run, CONTAINER, "simulator-container").inputs.image).toBe("sha256:mock-local-image-id-of-simulator-image");
  });

  test("extra CAs for the build reach the build stage as a build argument, nothing else", async () => {
    const image = one(await build({ buildCaCerts: "PROXY-CA-PEM" }), "docker:index/image:Image", "simulator-image").inputs;
    expect(image.build.args).toEqual({ BUILD_CA_CERTS: "PROXY-CA-PEM" });
  });

  test("configured by environment: URL, org, bucket, token and CA by file, devices, interval, site, seed", async () => {
    const run = await build();
    const c = one(run, CONTAINER, "simulator-container");
    expect(env(c)).toEqual({
      INFLUX_URL: "https://influxdb:8086",
      INFLUX_ORG: "iot",
      INFLUX_BUCKET: "sensors",
      INFLUX_TOKEN_FILE: "/run/secrets/influxdb-token/token",
      INFLUX_CA_FILE: "/etc/iot/simulator/tls/ca.pem",
      SIM_DEVICES: "42",
      SIM_INTERVAL_MS: "2000",
      SIM_SITE: "plant-7",
      SIM_SEED: "9",
      LOG_LEVEL: "warn",
      SIM_HEALTH_FILE: "/tmp/simulator-health.json",
      SIM_SHUTDOWN_TIMEOUT_MS: "8000",
      SIM_GZIP: "false",
    });
    expect(uploads(one(run, CONTAINER, "simulator-files-loader"))["tls/ca.pem"]).toMatchObject({ content: "CA", permissions: "0444" });
    expect(c.inputs.mounts).toEqual([
      { type: "volume", source: "iot-t-simulator-files", target: "/etc/iot/simulator", readOnly: true },
      { type: "volume", source: "iot-t-influxdb-token-simulator", target: "/run/secrets/influxdb-token", readOnly: true },
    ]);
    expect(c.inputs).toMatchObject({ user: "10001:10001", init: true, stopTimeout: 15 });
    // its own shutdown deadline well inside Docker's stop timeout, with room for exit and teardown
    expect(Number(env(c).SIM_SHUTDOWN_TIMEOUT_MS) + 5000).toBeLessThanOrEqual(c.inputs.stopTimeout * 1000);
    expect(c.inputs.healthcheck.tests).toEqual(["CMD", "node", "dist/healthcheck.js"]);
    expect(c.inputs.networksAdvanced).toEqual([{ name: "iot-t-backend" }]);
    expect(c.inputs.labels).toContainEqual({ label: "iot.after", value: "influx-id" });
  });

  test("the source hash follows .dockerignore: what Docker leaves out of the context changes nothing, the rest does", () => {
    const { mkdtempSync, writeFileSync, mkdirSync } = require("node:fs");
    const { tmpdir } = require("node:os");
    const dir = mkdtempSync(join(tmpdir(), "src-"));
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch");
    // the simulator's own ignore file, so the test follows it
    writeFileSync(join(dir, ".dockerignore"), require("node:fs").readFileSync(join(ROOT, "simulator", ".dockerignore"), "utf8"));
    const before = sourceHash(dir);
    for (const ignored of ["dist", "node_modules", "test"]) {
      mkdirSync(join(dir, ignored));
      writeFileSync(join(dir, ignored, "x.js"), "ignored");
    }
    writeFileSync(join(dir, "README.md"), "docs");
    expect(sourceHash(dir)).toBe(before);
    // Docker's patterns are rooted: *.md leaves out README.md, not src/NOTES.md, which is sent and so hashed
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src", "NOTES.md"), "sent to the daemon");
    const withNotes = sourceHash(dir);
    expect(withNotes).not.toBe(before);
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\nUSER 1");
    expect(sourceHash(dir)).not.toBe(withNotes);
  });
});
