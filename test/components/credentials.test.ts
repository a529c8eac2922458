import { isSecret, ofType, runUnderMocks } from "../support/harness";

test("Credentials alone: four generated secrets of at least 32 characters, all secret", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Credentials } = require("../../components/credentials");
    const c = new Credentials("creds", {});
    return { a: c.influxAdminPassword, b: c.influxOperatorToken, c: c.grafanaAdminPassword, d: c.grafanaSecretKey };
  });
  const passwords = ofType(run, "random:index/randomPassword:RandomPassword");
  expect(passwords.map((p) => p.name).sort()).toEqual([
    "creds-grafana-admin-password",
    "creds-grafana-secret-key",
    "creds-influx-admin-password",
    "creds-influx-operator-token",
  ]);
  for (const p of passwords) {
    expect(p.inputs.length).toBeGreaterThanOrEqual(32);
    expect(p.inputs.minUpper).toBeGreaterThan(0);
    expect(p.inputs.minNumeric).toBeGreaterThan(0);
  }
  // tokens and keys travel in files and headers: no symbols that need quoting
  for (const name of ["creds-influx-operator-token", "creds-grafana-secret-key"]) {
    expect(passwords.find((p) => p.name === name)?.inputs.special).toBe(false);
  }
  for (const value of Object.values(run.exports)) expect(await isSecret(run.pulumi, value)).toBe(true);
});

test("Credentials alone: a chosen password replaces the generated one and stays secret", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Credentials } = require("../../components/credentials");
    const c = new Credentials("creds", { influxAdminPassword: "chosen-password-123456" });
    return { influx: c.influxAdminPassword };
  });
  expect(ofType(run, "random:index/randomPassword:RandomPassword").map((p) => p.name)).not.toContain("creds-influx-admin-password");
  expect(await isSecret(run.pulumi, run.exports.influx)).toBe(true);
});
