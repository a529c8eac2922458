// The provisioned files themselves: the alerting file parses back to the rules (and, with a
// webhook, a contact point and a policy); `npm run dashboards` writes exactly what the program
// stages into Grafana's files volume; docs/DASHBOARDS.md's tables are the generated ones.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse } from "yaml";
import { CONTACT_POINT, GRAFANA_FILES, GRAFANA_FILES_DIR, alertingProvisioning } from "../components/grafana-provisioning";
import { loadSettings } from "../settings";
import { CONTAINER, ROOT, one, runUnderMocks, stackConfig, uploads } from "../test/support/harness";
import { buildAlertRules, buildDashboards, dashboardOptions, provisionedFiles } from ".";
import { main, stackFiles, stackReadme } from "./cli";
import { GENERATED_BEGIN, GENERATED_DOC, GENERATED_END } from "./readme";

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
  test("without a webhook: apiVersion 1 and the rule groups, nothing else", () => {
    const o = devOptions();
    const file = parse(alertingProvisioning({ groups: buildAlertRules(o) }));
    expect(file).toEqual({ apiVersion: 1, groups: buildAlertRules(o) });
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
