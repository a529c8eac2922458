// npm run dashboards: a wrong stack name or a broken stack file is one line on stderr that names
// the file and what to do, with a non-zero exit, never a stack trace.
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, stackSettings } from "./cli";

const ROOT = join(__dirname, "..");

/** A project folder with the real Pulumi.yaml and the given stack files. */
function projectWith(stackFiles: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "dashboards-cli-"));
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(root, "Pulumi.yaml"));
  for (const [stack, text] of Object.entries(stackFiles)) writeFileSync(join(root, `Pulumi.${stack}.yaml`), text);
  return root;
}

/** Runs main() and collects what it writes to stdout and stderr. */
function run(argv: string[], root: string): { code: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  const out = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: main(argv, root), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const STACKS = { dev: "config:\n  secure-iot:simDevices: 5\n", prod: "config:\n  secure-iot:simDevices: 500\n" };

test("a stack that has no file: one line listing the stacks there are, exit 1", () => {
  const root = projectWith(STACKS);
  const result = run(["--readme", "--stack", "prd"], root);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toBe(`there is no stack "prd": ${join(root, "Pulumi.prd.yaml")} does not exist; stacks with a Pulumi.<stack>.yaml file: dev, prod\n`);
});

test("a mis-indented stack file: one line with the file, line and column, exit 1", () => {
  const root = projectWith({ ...STACKS, dev: "config:\n  secure-iot:simDevices: 5\n   secure-iot:simSite: x\n" });
  const result = run(["--out", join(root, "out"), "--stack", "dev"], root);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^${join(root, "Pulumi.dev.yaml").replace(/[.]/g, "\\.")}:2:26: Nested mappings are not allowed in compact mappings; fix the YAML there .*\\n$`));
  expect(result.stderr.split("\n")).toHaveLength(2);
});

test("a folder without Pulumi.yaml: says where to run from", () => {
  const root = mkdtempSync(join(tmpdir(), "dashboards-cli-"));
  const result = run(["--readme"], root);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(`${join(root, "Pulumi.yaml")} does not exist: run this from the project folder (the one with Pulumi.yaml)\n`);
});

test("a key without the project's prefix is applied, as `pulumi up` would", () => {
  const root = projectWith({ ...STACKS, site: "config:\n  simDevices: 7\n  alertWebhookUrl:\n    secure: AAABAKz0\n" });
  const result = run(["--out", join(root, "out"), "--stack", "site"], root);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(stackSettings(root, "site").simulator.devices).toBe(7);
  expect(stackSettings(root, "site").alerts.webhookUrl).toBeDefined();
});

test("a setting's typo: the problem and a guess, exit 1", () => {
  const root = projectWith({ ...STACKS, site: "config:\n  secure-iot:simDevice: 7\n" });
  const result = run(["--readme", "--stack", "site"], root);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/secure-iot:simDevice is not a setting of this program: did you mean secure-iot:simDevices\?/);
});

test("a warning goes to stderr, apart from the output", () => {
  const root = projectWith({ ...STACKS, site: "config:\n  aws:region: eu-west-1\n" });
  const result = run(["--readme", "--stack", "site"], root);
  expect(result.code).toBe(0);
  expect(result.stderr).toBe("warning: aws:region has no effect: this program and its providers read only the namespaces secure-iot, docker, tls, random, pulumi\n");
  expect(result.stdout).not.toMatch(/aws:region/);
});

test("--help prints the usage and exits 0; a missing value is a usage error", () => {
  const help = run(["--help"], ROOT);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm run dashboards -- \(--out DIR \| --readme\) \[--stack NAME\]/);
  const missing = run(["--readme", "--stack"], ROOT);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/^usage: /);
});
