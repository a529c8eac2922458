// The InfluxDB container's backups volume (npm run backup / restore, tools/influx-backup.ts): a
// volume of its own, mounted read-write where the tools have `influx backup` write and stage a
// restore, owned by influxdb (1000) the way the token volumes are, and no privilege widened for it.
import { BACKUPS_MOUNT } from "../../tools/influx-backup";
import { CONTAINER, one, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY, TLS } from "./support";

function build() {
  return runUnderMocks("dev", {}, (pulumi) => {
    const { InfluxDb } = require("../../components/influxdb");
    new InfluxDb("influxdb", {
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
      tls: TLS(pulumi),
      platform: "linux/arm64",
      limits: LIMITS,
      policy: POLICY,
      protectData: true,
    });
    return {};
  });
}

describe("InfluxDb: the backups volume", () => {
  test("mounted read-write at the path the backup tools use, from a volume named iot-<stack>-influxdb-backups", async () => {
    const run = await build();
    const mounts = one(run, CONTAINER, "influxdb-container").inputs.mounts as Array<Record<string, unknown>>;
    const backups = mounts.filter((m) => m.target === BACKUPS_MOUNT);
    expect(backups).toEqual([{ type: "volume", source: "iot-t-influxdb-backups", target: "/var/lib/influxdb2-backups" }]);
    // not inside the data volume: a backup never lands in the data it is a copy of
    expect(BACKUPS_MOUNT.startsWith("/var/lib/influxdb2/")).toBe(false);
  });

  test("it starts empty and owned by influxdb (1000): created by a never-started loader mounting it on the image's /etc/influxdb2", async () => {
    const run = await build();
    const loader = one(run, CONTAINER, "influxdb-backups-loader").inputs;
    expect(loader.mounts).toEqual([{ type: "volume", source: "iot-t-influxdb-backups", target: "/etc/influxdb2" }]);
    expect(Object.keys(uploads(one(run, CONTAINER, "influxdb-backups-loader")))).toEqual([]);
    expect(loader).toMatchObject({ start: false, mustRun: false, networkMode: "none", image: "sha256:mock-image-id-of-influxdb-image" });
  });

  test("no privilege widened: the container stays read-only, unprivileged, as influxdb, with no capability added", async () => {
    const run = await build();
    const c = one(run, CONTAINER, "influxdb-container").inputs;
    expect(c).toMatchObject({ readOnly: true, user: "1000:1000", privileged: false });
    expect(c.capabilities).toEqual({ adds: [], drops: ["ALL"] });
    expect(c.securityOpts).toContain("no-new-privileges:true");
    // one mount more than before (data, backups, files, initdb, three token volumes), and the backups one is not read-only by design: influx backup writes there
    expect((c.mounts as unknown[]).length).toBe(7);
  });
});
