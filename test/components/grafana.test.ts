import { parse } from "yaml";
import { CONTACT_POINT, DASHBOARD_FOLDER, alertingProvisioning } from "../../components/grafana-provisioning";
import { FLUX_JSONDATA_KEYS, TLS_KEYS_UNDER_SWITCH } from "../../dashboards/test-support/grafana";
import { CONTAINER, env, one, runUnderMocks, uploads } from "../support/harness";
import { LIMITS, POLICY, TLS } from "./support";

const WEBHOOK_URL = "https://hooks.example.com/services/T0/B0/WEBHOOK-TOKEN";
const WEBHOOK_FILE = "/etc/iot/grafana/secrets/alert-webhook-url";
const RULES = [{ orgId: 1, name: "g", folder: "IoT alerts", interval: "1m", rules: [] }];

/** What dashboards/index.ts provisionedFiles() hands the component, in small. */
function provisioned(contactPoint: boolean): Record<string, string> {
  return {
    "dashboards/fleet.json": '{"title":"x"}',
    "provisioning/alerting/iot.yaml": alertingProvisioning({ groups: RULES, webhookUrlFile: contactPoint ? WEBHOOK_FILE : undefined }),
  };
}

function build(options: { tls?: boolean; protectData?: boolean; contactPoint?: boolean; webhookUrl?: string } = {}) {
  return runUnderMocks("dev", {}, (pulumi) => {
    const docker = require("@pulumi/docker");
    const { Grafana } = require("../../components/grafana");
    const influxContainer = new docker.Container("influx", { image: "x" });
    const grafana = new Grafana("grafana", {
      namePrefix: "iot-t",
      backendNetworkName: "iot-t-backend",
      frontendNetworkName: "iot-t-frontend",
      alias: "grafana",
      bindAddress: "127.0.0.1",
      hostPort: 3000,
      externalHost: "localhost",
      adminUser: "admin",
      adminPassword: pulumi.secret("GRAFANA-PASSWORD"),
      secretKey: pulumi.secret("GRAFANA-SECRET-KEY"),
      tls: options.tls === false ? undefined : TLS(pulumi),
      influx: {
        url: options.tls === false ? "http://influxdb:8086" : "https://influxdb:8086",
        org: "iot",
        bucket: "sensors",
        readToken: { volumeName: pulumi.output("iot-t-influxdb-token-grafana") },
        caCertPem: options.tls === false ? undefined : "CA",
      },
      provisioned: provisioned(options.contactPoint ?? false),
      alertWebhookUrl: options.webhookUrl && pulumi.secret(options.webhookUrl),
      platform: "linux/arm64",
      startAfter: influxContainer,
      limits: LIMITS,
      policy: POLICY,
      protectData: options.protectData ?? false,
    });
    return { url: grafana.url, protected: (grafana.dataVolume as any).__protect };
  });
}

describe("Grafana alone", () => {
  test("secure defaults: HTTPS, secrets by file, no anonymous access, no sign-up, no gravatar, no phoning home", async () => {
    const run = await build();
    const e = env(one(run, CONTAINER, "grafana-container"));
    expect(e).toMatchObject({
      GF_SERVER_PROTOCOL: "https",
      GF_SERVER_CERT_FILE: "/etc/iot/grafana/tls/server.crt",
      GF_SERVER_CERT_KEY: "/etc/iot/grafana/tls/server.key",
      GF_SERVER_MIN_TLS_VERSION: "TLS1.3",
      GF_SECURITY_ADMIN_USER: "admin",
      GF_SECURITY_ADMIN_PASSWORD__FILE: "/etc/iot/grafana/secrets/admin-password",
      GF_SECURITY_SECRET_KEY__FILE: "/etc/iot/grafana/secrets/secret-key",
      GF_AUTH_ANONYMOUS_ENABLED: "false",
      GF_USERS_ALLOW_SIGN_UP: "false",
      GF_SECURITY_COOKIE_SECURE: "true",
      GF_SECURITY_DISABLE_GRAVATAR: "true",
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
      GF_PLUGINS_PREINSTALL_DISABLED: "true",
      GF_PLUGINS_PREINSTALL_AUTO_UPDATE: "false",
      GF_PATHS_PROVISIONING: "/etc/iot/grafana/provisioning",
    });
    expect(e.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(e.GF_SECURITY_SECRET_KEY).toBeUndefined();
    expect(one(run, CONTAINER, "grafana-container").inputs.user).toBe("472:0");
    expect(run.exports.url).toBe("https://localhost:3000");
  });

  test("datasource: InfluxDB over Flux with the read-only token and the CA, never skipping verification", async () => {
    const files = uploads(one(await build(), CONTAINER, "grafana-files-loader"));
    const ds = parse(files["provisioning/datasources/influxdb.yaml"].content).datasources[0];
    expect(ds).toMatchObject({
      type: "influxdb",
      url: "https://influxdb:8086",
      access: "proxy",
      editable: false,
      jsonData: { version: "Flux", organization: "iot", defaultBucket: "sensors", tlsAuthWithCACert: true, tlsSkipVerify: false },
      secureJsonData: { token: "$__file{/run/secrets/influxdb-token/token}", tlsCACert: "$__file{/etc/iot/grafana/tls/ca.pem}" },
    });
    const provider = parse(files["provisioning/dashboards/iot.yaml"].content).providers[0];
    expect(provider).toMatchObject({ type: "file", allowUiUpdates: false, options: { path: "/etc/iot/grafana/dashboards" } });
    // found by uid, so no provisioner looking a folder up by title can take or duplicate it
    expect(provider).toMatchObject({ folder: DASHBOARD_FOLDER.title, folderUid: DASHBOARD_FOLDER.uid });
    expect(files["dashboards/fleet.json"].content).toBe('{"title":"x"}');
    expect(files["secrets/admin-password"]).toMatchObject({ content: "GRAFANA-PASSWORD", owner: "472", permissions: "0444" });
    expect(files["tls/server.key"]).toMatchObject({ owner: "472", permissions: "0444" });
    // every file readable by Grafana's uid whoever owns it; nothing writable
    for (const file of Object.values(files)) expect(file.permissions).toBe("0444");
  });

  test("the read-only token mount, the published port on the bind address, the health check over TLS", async () => {
    const c = one(await build(), CONTAINER, "grafana-container").inputs;
    expect(c.mounts).toEqual([
      { type: "volume", source: "iot-t-grafana-data", target: "/var/lib/grafana" },
      { type: "volume", source: "iot-t-grafana-files", target: "/etc/iot/grafana", readOnly: true },
      { type: "volume", source: "iot-t-influxdb-token-grafana", target: "/run/secrets/influxdb-token", readOnly: true },
    ]);
    expect(JSON.stringify(c.mounts)).not.toMatch(/volumeOptions|subpath/);
    expect(c.ports).toEqual([{ internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(c.healthcheck.tests).toEqual(["CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", "/etc/iot/grafana/tls/ca.pem", "https://localhost:3000/api/health"]);
    expect(c.labels).toContainEqual({ label: "iot.after", value: "influx-id" });
  });

  test.each([true, false])("datasource (TLS %s): only keys Grafana's Flux path reads, TLS keys only with their switch", async (tls) => {
    const run = await build({ tls });
    const { jsonData } = parse(uploads(one(run, CONTAINER, "grafana-files-loader"))["provisioning/datasources/influxdb.yaml"].content).datasources[0];
    expect(Object.keys(jsonData).filter((key) => !FLUX_JSONDATA_KEYS.includes(key))).toEqual([]);
    const switchOn = jsonData.tlsAuth === true || jsonData.tlsAuthWithCACert === true;
    expect(switchOn).toBe(tls);
    if (!switchOn) expect(Object.keys(jsonData).filter((key) => TLS_KEYS_UNDER_SWITCH.includes(key))).toEqual([]);
    expect(jsonData.tlsSkipVerify).not.toBe(true);
  });

  test("without TLS: http, no insecure cookies claimed secure, no CA in the datasource", async () => {
    const run = await build({ tls: false });
    const e = env(one(run, CONTAINER, "grafana-container"));
    expect(e.GF_SERVER_PROTOCOL).toBe("http");
    expect(e.GF_SERVER_CERT_FILE).toBeUndefined();
    const ds = parse(uploads(one(run, CONTAINER, "grafana-files-loader"))["provisioning/datasources/influxdb.yaml"].content).datasources[0];
    expect(ds.jsonData.tlsAuthWithCACert).toBeUndefined();
    expect(ds.secureJsonData.tlsCACert).toBeUndefined();
  });

  test("provisioning folders Grafana reads at start all exist, so it logs no error for a missing one", async () => {
    const files = uploads(one(await build(), CONTAINER, "grafana-files-loader"));
    const folders = new Set(Object.keys(files).filter((f) => f.startsWith("provisioning/")).map((f) => f.split("/")[1]));
    expect([...folders].sort()).toEqual(["alerting", "dashboards", "datasources", "plugins"]);
    expect(parse(files["provisioning/plugins/none.yaml"].content)).toEqual({ apiVersion: 1, apps: [] });
  });

  test("dashboards and alert rules staged as given, read-only; no contact point (only its removal) and no webhook file by default", async () => {
    const files = uploads(one(await build(), CONTAINER, "grafana-files-loader"));
    expect(files["dashboards/fleet.json"].content).toBe('{"title":"x"}');
    const alerting = parse(files["provisioning/alerting/iot.yaml"].content);
    expect(alerting).toEqual({ apiVersion: 1, groups: RULES, resetPolicies: [1], deleteContactPoints: [{ orgId: 1, uid: CONTACT_POINT }] });
    expect(Object.keys(files).filter((f) => f.startsWith("provisioning/alerting/"))).toEqual(["provisioning/alerting/iot.yaml"]);
    expect(files["secrets/alert-webhook-url"]).toBeUndefined();
  });

  test("a webhook contact point: the URL only in Grafana's own volume as a 0444 file, read through $__file{}, never in the environment", async () => {
    const run = await build({ contactPoint: true, webhookUrl: WEBHOOK_URL });
    const files = uploads(one(run, CONTAINER, "grafana-files-loader"));
    expect(files["secrets/alert-webhook-url"]).toMatchObject({ content: WEBHOOK_URL, owner: "472", permissions: "0444" });
    const alerting = parse(files["provisioning/alerting/iot.yaml"].content);
    expect(alerting.contactPoints[0].receivers[0]).toMatchObject({ type: "webhook", settings: { url: `$__file{${WEBHOOK_FILE}}` } });
    expect(alerting.policies[0].receiver).toBe(alerting.contactPoints[0].name);
    const withUrl = Object.entries(files).filter(([, file]) => file.content.includes("WEBHOOK-TOKEN")).map(([path]) => path);
    expect(withUrl).toEqual(["secrets/alert-webhook-url"]);
    const container = one(run, CONTAINER, "grafana-container");
    expect(JSON.stringify(container.inputs)).not.toContain("WEBHOOK-TOKEN");
    expect(container.inputs.mounts.filter((m: { target: string }) => WEBHOOK_FILE.startsWith(`${m.target}/`)).map((m: { source: string }) => m.source)).toEqual(["iot-t-grafana-files"]);
  });

  test("the webhook secret and the contact point come together or not at all", async () => {
    await expect(build({ contactPoint: true })).rejects.toThrow(/alertWebhookUrl must be given exactly when the alerting provisioning has a contact point/);
    await expect(build({ contactPoint: false, webhookUrl: WEBHOOK_URL })).rejects.toThrow(/alertWebhookUrl must be given exactly when/);
  });

  test("the image is pulled for the Docker host's platform", async () => {
    expect(one(await build(), "docker:index/remoteImage:RemoteImage", "grafana-image").inputs.platform).toBe("linux/arm64");
  });

  test("data volume protected when asked", async () => {
    expect((await build({ protectData: true })).exports.protected).toBe(true);
  });
});
