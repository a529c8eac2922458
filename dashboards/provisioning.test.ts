// The provisioned files themselves: the alerting file parses back to the rules (and, with a
// webhook, a contact point and a policy; without, their removal); what Grafana makes of it and of
// the folders at start, per the model of Grafana in test-support/grafana.ts; `npm run dashboards` writes exactly what the program
// stages into Grafana's files volume; docs/DASHBOARDS.md's tables are the generated ones.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse, stringify } from "yaml";
import {
  ALERT_FOLDER,
  CONTACT_POINT,
  DASHBOARD_FOLDER,
  GRAFANA_FILES,
  GRAFANA_FILES_DIR,
  alertingProvisioning,
  dashboardProvisioning,
} from "../components/grafana-provisioning";
import { loadSettings } from "../settings";
import { CONTAINER, ROOT, one, runUnderMocks, stackConfig, uploads } from "../test/support/harness";
import { buildAlertRules, buildDashboards, dashboardOptions, provisionedFiles } from ".";
import { main, stackFiles, stackReadme } from "./cli";
import { GENERATED_BEGIN, GENERATED_DOC, GENERATED_END } from "./readme";
import { DEFAULT_CONTACT_POINT, GrafanaStartError, alertFolderSteps, dashboardFolderSteps, freshGrafana, provisionAlerting, type GrafanaState } from "./test-support/grafana";

const devOptions = () => dashboardOptions(loadSettings(stackConfig("dev"), "dev"));

function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path, "utf8");
    }
  };
  walk(dir);
  return out;
}

describe("the alerting provisioning file", () => {
  test("without a webhook: apiVersion 1, the rule groups, and the webhook's removal (policy reset, contact point deleted)", () => {
    const o = devOptions();
    const file = parse(alertingProvisioning({ groups: buildAlertRules(o) }));
    expect(file).toEqual({
      apiVersion: 1,
      groups: buildAlertRules(o),
      resetPolicies: [1],
      deleteContactPoints: [{ orgId: 1, uid: CONTACT_POINT }],
    });
  });

  test("with a webhook: a webhook contact point reading its URL from the file, and the policy routing to it", () => {
    const file = parse(alertingProvisioning({ groups: [], webhookUrlFile: "/etc/iot/grafana/secrets/alert-webhook-url" }));
    expect(file.contactPoints).toEqual([
      {
        orgId: 1,
        name: CONTACT_POINT,
        receivers: [{ uid: CONTACT_POINT, type: "webhook", settings: { url: "$__file{/etc/iot/grafana/secrets/alert-webhook-url}", httpMethod: "POST" }, disableResolveMessage: false }],
      },
    ]);
    expect(file.policies).toEqual([expect.objectContaining({ orgId: 1, receiver: CONTACT_POINT })]);
  });

  test("Flux queries are literal blocks: the file shows each query as Grafana runs it", () => {
    const text = alertingProvisioning({ groups: buildAlertRules(devOptions()) });
    expect(text).toMatch(/query: \|-\n\s+from\(bucket: "sensors"\)\n\s+\|> range\(start: v\.timeRangeStart, stop: v\.timeRangeStop\)/);
    expect(text).not.toMatch(/query: >/);
  });
});

/** The program's alerting file for the dev stack, with or without the webhook. */
const alertingFile = (contactPoint: boolean) => provisionedFiles({ dashboards: devOptions(), contactPoint })[GRAFANA_FILES.alerting];
const webhookIn = (g: GrafanaState) => g.contactPoints.some((c) => c.integrationUids.includes(CONTACT_POINT));

describe("what Grafana makes of the alerting file at start (dashboards/test-support/grafana.ts, from Grafana's source)", () => {
  test("a fresh Grafana starts with either file: removing what was never there is no error", () => {
    for (const contactPoint of [false, true]) {
      const grafana = freshGrafana();
      expect(() => provisionAlerting(grafana, alertingFile(contactPoint))).not.toThrow();
      expect(grafana.rules.size).toBe(6);
      expect(webhookIn(grafana)).toBe(contactPoint);
    }
  });

  test("with a webhook, every alert goes to it, and a restart changes nothing", () => {
    const grafana = freshGrafana();
    provisionAlerting(grafana, alertingFile(true));
    provisionAlerting(grafana, alertingFile(true));
    expect(grafana.policyReceiver).toBe(CONTACT_POINT);
    expect(grafana.contactPoints.filter((c) => c.name === CONTACT_POINT)).toEqual([{ name: CONTACT_POINT, integrationUids: [CONTACT_POINT] }]);
  });

  test("removing the webhook takes effect: the next start leaves no webhook contact point and the default policy", () => {
    const grafana = freshGrafana();
    provisionAlerting(grafana, alertingFile(true));
    provisionAlerting(grafana, alertingFile(false));
    expect(webhookIn(grafana)).toBe(false);
    expect(grafana.policyReceiver).toBe(DEFAULT_CONTACT_POINT);
    // and the start after that, with nothing left to remove
    expect(() => provisionAlerting(grafana, alertingFile(false))).not.toThrow();
  });

  test("the contact point's deletion alone would stop Grafana while the policy still routes to it: the file resets the policy too", () => {
    const grafana = freshGrafana();
    provisionAlerting(grafana, alertingFile(true));
    const { resetPolicies, ...deleteOnly } = parse(alertingFile(false));
    expect(resetPolicies).toEqual([1]);
    expect(() => provisionAlerting(grafana, stringify(deleteOnly))).toThrow(GrafanaStartError);
  });

  test("a retired rule is deleted at every start, and one already gone is no error", () => {
    const grafana = freshGrafana();
    provisionAlerting(grafana, alertingProvisioning({ groups: buildAlertRules(devOptions()) }));
    const [group] = buildAlertRules(devOptions());
    const [retired, ...kept] = group.rules;
    const next = alertingProvisioning({ groups: [{ ...group, rules: kept }], retiredRuleUids: [retired.uid] });
    expect(parse(next).deleteRules).toEqual([{ orgId: 1, uid: retired.uid }]);
    provisionAlerting(grafana, next);
    expect(grafana.rules.has(retired.uid)).toBe(false);
    expect(grafana.rules.size).toBe(kept.length);
    expect(() => provisionAlerting(grafana, next)).not.toThrow();
  });

  test("a rule only left out of the file stays in Grafana: why a removed rule's uid must be retired", () => {
    const grafana = freshGrafana();
    const [group] = buildAlertRules(devOptions());
    provisionAlerting(grafana, alertingProvisioning({ groups: [group] }));
    provisionAlerting(grafana, alertingProvisioning({ groups: [{ ...group, rules: group.rules.slice(1) }] }));
    expect(grafana.rules.has(group.rules[0].uid)).toBe(true);
  });
});

describe("folders: Grafana provisions alerting and dashboards in parallel, each creating its folder when missing", () => {
  /** Every interleaving of two look-up-then-create sequences. */
  const ORDERS: Array<Array<["alerts" | "dashboards", "lookup" | "create"]>> = [
    [["alerts", "lookup"], ["alerts", "create"], ["dashboards", "lookup"], ["dashboards", "create"]],
    [["dashboards", "lookup"], ["dashboards", "create"], ["alerts", "lookup"], ["alerts", "create"]],
    [["alerts", "lookup"], ["dashboards", "lookup"], ["alerts", "create"], ["dashboards", "create"]],
    [["alerts", "lookup"], ["dashboards", "lookup"], ["dashboards", "create"], ["alerts", "create"]],
    [["dashboards", "lookup"], ["alerts", "lookup"], ["alerts", "create"], ["dashboards", "create"]],
    [["dashboards", "lookup"], ["alerts", "lookup"], ["dashboards", "create"], ["alerts", "create"]],
  ];

  /** One start: the folder each side ends in, in the given order. */
  function start(grafana: GrafanaState, order: (typeof ORDERS)[number]) {
    const provider = parse(dashboardProvisioning("/d")).providers[0];
    const alertsFolder = buildAlertRules(devOptions())[0].folder;
    const steps = { alerts: alertFolderSteps(grafana, alertsFolder), dashboards: dashboardFolderSteps(grafana, provider) };
    const result: Record<string, string> = {};
    for (const [side, step] of order) {
      if (step === "lookup") steps[side].lookup();
      else result[side] = steps[side].create();
    }
    return result;
  }

  test.each(ORDERS.map((order, i) => [i, order] as const))("order %i: two folders, each created once, and a restart finds them", (_i, order) => {
    const grafana = freshGrafana();
    const first = start(grafana, order);
    expect(grafana.folders.map((f) => f.title).sort()).toEqual([ALERT_FOLDER, DASHBOARD_FOLDER.title].sort());
    expect(first.dashboards).toBe(DASHBOARD_FOLDER.uid);
    expect(first.alerts).not.toBe(first.dashboards);
    expect(start(grafana, order)).toEqual(first);
    expect(grafana.folders).toHaveLength(2);
  });

  test("an existing Grafana with the earlier shared folder 'IoT': the new folders are created beside it, nothing collides", () => {
    const grafana = freshGrafana();
    grafana.folders.push({ uid: "old", title: "IoT" });
    for (const order of ORDERS) start(grafana, order);
    expect(grafana.folders.map((f) => f.title).sort()).toEqual(["IoT", ALERT_FOLDER, DASHBOARD_FOLDER.title].sort());
  });
});

describe("provisionedFiles", () => {
  test("the dashboards under dashboards/, the alerting file under provisioning/alerting/", () => {
    const o = devOptions();
    const files = provisionedFiles({ dashboards: o, contactPoint: false });
    expect(Object.keys(files)).toEqual([...Object.keys(buildDashboards(o)).map((n) => `${GRAFANA_FILES.dashboardsDir}/${n}`), GRAFANA_FILES.alerting]);
    expect(files[GRAFANA_FILES.alerting]).not.toContain("contactPoints");
    const withWebhook = provisionedFiles({ dashboards: o, contactPoint: true });
    expect(withWebhook[GRAFANA_FILES.alerting]).toContain(`$__file{${GRAFANA_FILES_DIR}/${GRAFANA_FILES.alertWebhookUrl}}`);
  });
});

describe("npm run dashboards", () => {
  test.each(["dev", "prod"])("%s: writes byte for byte what the program stages in Grafana's files volume", async (stack) => {
    const out = mkdtempSync(join(tmpdir(), "dashboards-"));
    const write = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(main(["--out", out, "--stack", stack], ROOT)).toBe(0);
    } finally {
      write.mockRestore();
    }
    const written = filesUnder(out);
    const run = await runUnderMocks(stack, stackConfig(stack));
    const staged = uploads(one(run, CONTAINER, "grafana-files-loader"));
    expect(Object.keys(written).length).toBe(4);
    for (const [path, content] of Object.entries(written)) {
      expect({ path, staged: staged[path]?.content }).toEqual({ path, staged: content });
    }
    // and everything the program stages under those folders is written
    const stagedHere = Object.keys(staged).filter((p) => p.startsWith(`${GRAFANA_FILES.dashboardsDir}/`) || p.startsWith("provisioning/alerting/"));
    expect(stagedHere.sort()).toEqual(Object.keys(written).sort());
  });

  test("the real script compiles and writes the same files", () => {
    const out = mkdtempSync(join(tmpdir(), "dashboards-npm-"));
    const result = spawnSync("npm", ["run", "--silent", "dashboards", "--", "--out", out], { cwd: ROOT, encoding: "utf8" });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
    expect(filesUnder(out)).toEqual(stackFiles(ROOT, "dev"));
  });

  test("an encrypted (secure:) webhook in the stack file counts as set; its value never reaches these files", () => {
    const root = mkdtempSync(join(tmpdir(), "dashboards-stack-"));
    copyFileSync(join(ROOT, "Pulumi.yaml"), join(root, "Pulumi.yaml"));
    writeFileSync(join(root, "Pulumi.site.yaml"), "config:\n  secure-iot:alertWebhookUrl:\n    secure: v1:AAAAAAAAAAAAAAAA:BBBBBBBB\n");
    const files = stackFiles(root, "site");
    expect(parse(files[GRAFANA_FILES.alerting]).contactPoints[0].name).toBe(CONTACT_POINT);
    expect(JSON.stringify(files)).not.toContain("v1:AAAA");
    writeFileSync(join(root, "Pulumi.site.yaml"), "config: {}\n");
    expect(parse(stackFiles(root, "site")[GRAFANA_FILES.alerting]).contactPoints).toBeUndefined();
  });

  test("the program with a webhook: its URL only in the secrets file, in no provisioning file or environment", async () => {
    const config = stackConfig("dev", { alertWebhookUrl: "https://hooks.example.com/T0/B0/TOKEN-IN-URL" });
    const run = await runUnderMocks("dev", config);
    const staged = uploads(one(run, CONTAINER, "grafana-files-loader"));
    const withToken = Object.entries(staged).filter(([, f]) => f.content.includes("TOKEN-IN-URL")).map(([p]) => p);
    expect(withToken).toEqual([GRAFANA_FILES.alertWebhookUrl]);
    expect(staged[GRAFANA_FILES.alerting].content).toContain(CONTACT_POINT);
    const grafana = one(run, CONTAINER, "grafana-container");
    expect(JSON.stringify(grafana.inputs.envs)).not.toContain("TOKEN-IN-URL");
  });

  test("usage errors exit 2 with the usage", () => {
    const err = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(main([], ROOT)).toBe(2);
      expect(main(["--out", "x", "--readme"], ROOT)).toBe(2);
      expect(main(["--bogus"], ROOT)).toBe(2);
      expect(String(err.mock.calls[0][0])).toMatch(/usage: npm run dashboards -- \(--out DIR \| --readme\)/);
    } finally {
      err.mockRestore();
    }
  });
});

test("docs/DASHBOARDS.md's dashboard and alert tables are the generated ones (npm run dashboards -- --readme)", () => {
  const doc = readFileSync(join(ROOT, GENERATED_DOC), "utf8");
  const begin = doc.indexOf(GENERATED_BEGIN);
  const end = doc.indexOf(GENERATED_END);
  expect(begin).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(begin);
  // one generated section only, so an old copy left elsewhere in the page cannot pass unnoticed
  expect(doc.indexOf(GENERATED_BEGIN, begin + 1)).toBe(-1);
  const section = doc.slice(begin + GENERATED_BEGIN.length, end).trim();
  expect(section).toBe(stackReadme(ROOT, "dev").trim());
});
