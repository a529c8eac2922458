// The setup-only values: InfluxDB applies them at its first setup only, so a change is refused at
// preview (Pulumi calls the provider's check with the old and new inputs) with the setting named.
import { setupChanges, type SetupValues } from "../../components/influxdb-setup-guard";

const setUp: SetupValues = { org: "iot", bucket: "sensors", retention: "30d", adminUser: "admin", credentialsDigest: "a".repeat(64) };

test("the first deployment has nothing to compare with", () => {
  expect(setupChanges({}, setUp)).toEqual([]);
});

test("the same values pass", () => {
  expect(setupChanges(setUp, { ...setUp })).toEqual([]);
});

test.each([
  ["bucket", "influxBucket", { bucket: "readings" }, /influxBucket was "sensors" at InfluxDB's first setup and is "readings" now/],
  ["org", "influxOrg", { org: "plant" }, /influxOrg was "iot"/],
  ["retention", "influxRetention", { retention: "90d" }, /influxRetention was "30d"/],
  ["adminUser", "influxAdminUser", { adminUser: "root" }, /influxAdminUser was "admin"/],
])("a changed %s is refused, naming %s and what to do", (property, _setting, change, message) => {
  const failures = setupChanges(setUp, { ...setUp, ...change });
  expect(failures).toHaveLength(1);
  expect(failures[0].property).toBe(property);
  expect(failures[0].reason).toMatch(message);
  expect(failures[0].reason).toMatch(/applies it only at its first setup.*Set it back, or start over with an empty database/);
});

test("a changed password or token is refused without showing either", () => {
  const failures = setupChanges(setUp, { ...setUp, credentialsDigest: "b".repeat(64) });
  expect(failures.map((f) => f.property)).toEqual(["credentialsDigest"]);
  expect(failures[0].reason).toMatch(/^influxAdminPassword \(or the generated operator token\) changed:/);
  expect(failures[0].reason).not.toMatch(/aaaa|bbbb/);
});

test("every changed value is reported at once", () => {
  expect(setupChanges(setUp, { ...setUp, org: "x", bucket: "y" }).map((f) => f.property)).toEqual(["org", "bucket"]);
});
