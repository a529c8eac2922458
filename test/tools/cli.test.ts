// The tools as npm runs them: built (npm run build:tools), started as processes, with a
// controlled PATH and stand-in `pulumi`, `docker` and `trivy` where needed.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/harness";

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "build:tools"], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

/** A bin folder with node, bash and the basic tools, plus stand-ins given as bash bodies. */
function sandbox(fakes: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "tools-cli-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["bash", "node", "dirname", "mkdir", "cat", "sort", "grep", "head", "tr", "base64", "chmod"]) {
    symlinkSync(execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(bin, tool));
  }
  for (const [name, body] of Object.entries(fakes)) {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $* | DOCKER_HOST=$DOCKER_HOST" >> "${dir}/calls"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const calls = () => {
    try {
      return readFileSync(join(dir, "calls"), "utf8");
    } catch {
      return "";
    }
  };
  return { dir, bin, calls };
}

function run(command: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(command, args, { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm run scan (tools/dist/tools/scan.js)", () => {
  test("no scanner on PATH: says so and how to install one, exit 2", () => {
    const box = sandbox({ docker: "exit 1" });
    const r = run(process.execPath, [join(ROOT, "tools", "dist", "tools", "scan.js")], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^scan: NOT RUN\. No vulnerability scanner found: neither trivy nor grype is on PATH, so nothing was scanned \(this is not a pass\)\.\n/);
    expect(r.stdout).toMatch(/trivy: https:\/\/github\.com\/aquasecurity\/trivy/);
    expect(box.calls()).toBe("");
  });

  test("a stand-in trivy that finds a CRITICAL in one image: exit 1, and --json says which", () => {
    const high = join(__dirname, "fixtures", "trivy-image-high.json");
    const clean = join(__dirname, "fixtures", "trivy-image-clean.json");
    const box = sandbox({
      docker: 'echo "sha256:abc"',
      trivy: `case "$1" in --version) echo "Version: standin" ;; image) case "$*" in *grafana*) cat "${high}" ;; *) cat "${clean}" ;; esac ;; sbom) cat "${clean}" ;; esac`,
    });
    const r = run(process.execPath, [join(ROOT, "tools", "dist", "tools", "scan.js"), "--json"], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ scanner: "trivy", ran: true, exitCode: 1 });
    expect(report.targets.filter((t: any) => t.findings.some((f: any) => f.severity === "CRITICAL")).map((t: any) => t.label)).toEqual(["Grafana image (pinned)"]);
  });
});

describe("npm run verify (scripts/verify.sh, then tools/dist/tools/verify.js)", () => {
  test("an unknown argument: usage, exit 2", () => {
    expect(run("bash", [join(ROOT, "scripts", "verify.sh"), "--fix"], { PATH: process.env.PATH ?? "" }).status).toBe(2);
  });

  test("nothing installed: the same prerequisite lines as npm run up, exit 1, nothing checked", () => {
    const box = sandbox({});
    const r = run("bash", [join(ROOT, "scripts", "verify.sh")], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: the Pulumi CLI is not installed or not on PATH/m);
    expect(r.stdout).toBe("");
  });

  test("with the prerequisites: the checks run against the stack's backend and the engine prereqs.sh found; a stack that is not deployed fails", () => {
    const box = sandbox({
      pulumi: 'case "$*" in "config get docker:host"*) echo ssh://admin@edge-01 ;; "stack output"*) echo "error: no stack named prod found" >&2; exit 255 ;; esac',
      docker: "echo 1.41",
    });
    const r = run("bash", [join(ROOT, "scripts", "verify.sh"), "--stack", "prod", "--json"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      stack: "prod",
      grafanaUrl: null,
      ok: false,
      counts: { pass: 0, fail: 1, skip: 0 },
      checks: [{ name: "stack", status: "fail", summary: "pulumi stack output failed: error: no stack named prod found" }],
    });
    expect(box.calls()).toMatch(/^pulumi stack output --json --show-secrets --stack prod \| DOCKER_HOST=ssh:\/\/admin@edge-01$/m);
  });
});
