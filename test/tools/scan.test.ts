// npm run scan: reading trivy's and grype's JSON reports (fixtures in their documented formats,
// see fixtures/README.md), the decision (HIGH or CRITICAL fails, a target not scanned fails, no
// scanner at all fails), and the command lines, with stand-in scanners.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRAFANA_IMAGE, INFLUXDB_IMAGE, MOSQUITTO_IMAGE, TELEGRAF_IMAGE } from "../../components/images";
import type { Exec, ExecResult } from "../../tools/common";
import {
  exitCode,
  judge,
  NO_SCANNER_MESSAGE,
  normaliseSeverity,
  parseArgs,
  parseGrype,
  parseTrivy,
  runScan,
  scannerArgs,
  scannerVersionOf,
  simulatorImageRef,
  stripAnsi,
  type Outcome,
} from "../../tools/scan";
import { ROOT, runUnderMocks, stackConfig } from "../support/harness";

const fixture = (name: string) => readFileSync(join(__dirname, "fixtures", name), "utf8");

describe("trivy's JSON report", () => {
  test("every vulnerability of every result, with its id, package, version and severity", () => {
    const findings = parseTrivy(fixture("trivy-image-high.json"));
    expect(findings).toEqual([
      { id: "CVE-2099-0001", pkg: "libexample3", version: "3.0.1-1", severity: "CRITICAL" },
      { id: "CVE-2099-0002", pkg: "libother", version: "1.2-3", severity: "LOW" },
      { id: "CVE-2099-0003", pkg: "libother", version: "1.2-3", severity: "MEDIUM" },
      { id: "GHSA-0000-0000-0001", pkg: "example.invalid/net", version: "v0.1.0", severity: "HIGH" },
      { id: "CVE-2099-0004", pkg: "stdlib", version: "v1.22.0", severity: "UNKNOWN" },
    ]);
  });
  test("results without Vulnerabilities, and a report without Results (trivy leaves empty ones out), are clean", () => {
    expect(parseTrivy(fixture("trivy-image-clean.json")).map((f) => f.severity)).toEqual(["LOW", "MEDIUM"]);
    expect(parseTrivy(fixture("trivy-sbom-empty.json"))).toEqual([]);
  });
  test("a report recorded from a real trivy (v0.74.0 built from its module, an SBOM scanned for licences: no vulnerability database here) reads as clean", () => {
    const recorded = fixture("trivy-sbom-recorded.json");
    expect(JSON.parse(recorded)).toMatchObject({ SchemaVersion: 2, ArtifactType: "cyclonedx" });
    expect(parseTrivy(recorded)).toEqual([]);
  });
  test("anything else is not a report", () => {
    expect(() => parseTrivy("2026-11-26T08:00:00Z FATAL init error: DB error: failed to download vulnerability DB")).toThrow(/trivy did not print a JSON report/);
    expect(() => parseTrivy(fixture("grype-image.json"))).toThrow("not a trivy JSON report (no SchemaVersion)");
    expect(() => parseTrivy("null")).toThrow(/not a trivy JSON report/);
  });
});

describe("grype's JSON report", () => {
  test("every match, with the vulnerability's id and severity and the artifact's name and version", () => {
    expect(parseGrype(fixture("grype-image.json"))).toEqual([
      { id: "CVE-2099-0201", pkg: "libexample3", version: "3.0.1-1", severity: "CRITICAL" },
      { id: "GHSA-0000-0000-0202", pkg: "sample-lib", version: "1.2.3", severity: "HIGH" },
      { id: "CVE-2099-0203", pkg: "login", version: "1:4.13+dfsg1-1", severity: "NEGLIGIBLE" },
      { id: "CVE-2099-0204", pkg: "perl-base", version: "5.36.0-7+deb12u1", severity: "MEDIUM" },
    ]);
    expect(parseGrype(fixture("grype-sbom-clean.json"))).toEqual([]);
  });
  test("anything else is not a report", () => {
    expect(() => parseGrype(fixture("trivy-image-clean.json"))).toThrow("not a grype JSON report (no matches array)");
    expect(() => parseGrype("")).toThrow(/grype did not print a JSON report/);
  });
});

test.each([
  ["HIGH", "HIGH"],
  ["High", "HIGH"],
  ["critical", "CRITICAL"],
  ["Negligible", "NEGLIGIBLE"],
  ["", "UNKNOWN"],
  [undefined, "UNKNOWN"],
  ["severe", "UNKNOWN"],
])("severity %p reads as %s", (raw, expected) => expect(normaliseSeverity(raw)).toBe(expected));

describe("the decision", () => {
  const target = (ref: string) => ({ kind: "image" as const, ref, label: ref });
  const clean: Outcome = { target: target("a"), findings: parseTrivy(fixture("trivy-image-clean.json")) };
  const high: Outcome = { target: target("b"), findings: parseGrype(fixture("grype-image.json")) };
  const notScanned: Outcome = { target: target("c"), notScanned: "trivy exited 1: FATAL DB error", findings: [] };

  test("clean targets pass and exit 0; LOW, MEDIUM, NEGLIGIBLE and UNKNOWN do not fail", () => {
    expect(judge([clean])).toEqual([{ name: "a (a)", status: "pass", summary: "no HIGH or CRITICAL finding (1 MEDIUM, 1 LOW)" }]);
    expect(exitCode([clean])).toBe(0);
  });
  test("one HIGH or CRITICAL finding fails the run (exit 1), each listed", () => {
    const [result] = judge([high]);
    expect(result.status).toBe("fail");
    expect(result.summary).toBe("2 HIGH or CRITICAL (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 NEGLIGIBLE)");
    expect(result.details).toEqual(["CRITICAL CVE-2099-0201 in libexample3 3.0.1-1", "HIGH GHSA-0000-0000-0202 in sample-lib 1.2.3"]);
    expect(exitCode([clean, high])).toBe(1);
  });
  test("a target that was not scanned fails and is never reported as passed (exit 2)", () => {
    expect(judge([notScanned])).toEqual([{ name: "c (c)", status: "fail", summary: "NOT SCANNED: trivy exited 1: FATAL DB error" }]);
    expect(exitCode([clean, notScanned])).toBe(2);
    expect(exitCode([])).toBe(2);
  });
  test("vulnerabilities found take precedence over an incomplete scan in the exit status (both fail)", () => {
    expect(exitCode([high, notScanned])).toBe(1);
  });
});

describe("command lines", () => {
  const image = { kind: "image" as const, ref: INFLUXDB_IMAGE, label: "x", platform: "linux/arm64" };
  const sbom = { kind: "sbom" as const, ref: "/p/sbom/x.cdx.json", label: "y" };
  test("trivy: image and sbom subcommands, JSON, vulnerabilities only, the stack's platform for pinned images", () => {
    expect(scannerArgs("trivy", image)).toEqual(["image", "--format", "json", "--quiet", "--scanners", "vuln", "--platform", "linux/arm64", INFLUXDB_IMAGE]);
    expect(scannerArgs("trivy", sbom)).toEqual(["sbom", "--format", "json", "--quiet", "/p/sbom/x.cdx.json"]);
  });
  test("grype: the image or sbom: source, JSON", () => {
    expect(scannerArgs("grype", image)).toEqual([INFLUXDB_IMAGE, "-o", "json", "--platform", "linux/arm64"]);
    expect(scannerArgs("grype", sbom)).toEqual(["sbom:/p/sbom/x.cdx.json", "-o", "json"]);
  });
});

describe("a whole run, with stand-in commands", () => {
  /** A project folder with the files the scan reads: Pulumi.yaml, a stack file, the simulator package, SBOMs. */
  function project(options: { sboms?: boolean } = {}) {
    const dir = mkdtempSync(join(tmpdir(), "scan-root-"));
    writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
    writeFileSync(join(dir, "Pulumi.dev.yaml"), readFileSync(join(ROOT, "Pulumi.dev.yaml")));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "secure-iot-stack", version: "0.1.0" }));
    mkdirSync(join(dir, "simulator"));
    writeFileSync(join(dir, "simulator", "package.json"), JSON.stringify({ name: "iot-sensor-simulator", version: "0.1.0" }));
    writeFileSync(join(dir, "simulator", ".dockerignore"), "node_modules\n");
    if (options.sboms !== false) {
      mkdirSync(join(dir, "sbom"));
      writeFileSync(join(dir, "sbom", "secure-iot-stack.cdx.json"), "{}");
      writeFileSync(join(dir, "sbom", "iot-sensor-simulator.cdx.json"), "{}");
    }
    return dir;
  }
  function fakeExec(answer: (command: string, args: string[]) => Partial<ExecResult>) {
    const calls: string[] = [];
    const exec: Exec = async (command, args) => {
      calls.push([command, ...args].join(" "));
      return { status: 0, stdout: "", stderr: "", ...answer(command, args) };
    };
    return { exec, calls };
  }

  test("no scanner installed: says exactly that and how to install one, scans nothing, exits 2", async () => {
    const { exec, calls } = fakeExec(() => ({}));
    const run = await runScan({ stack: "dev" }, { exec, which: () => undefined, root: project() });
    expect(run.exitCode).toBe(2);
    expect(run.report).toBe(NO_SCANNER_MESSAGE);
    expect(run.report).toMatch(/^scan: NOT RUN\. No vulnerability scanner found: neither trivy nor grype is on PATH, so nothing was scanned \(this is not a pass\)\./);
    expect(run.json).toMatchObject({ ran: false, scanner: null, exitCode: 2 });
    expect(calls).toEqual([]);
  });

  test("--scanner grype when only trivy is installed: not run, exit 2", async () => {
    const { exec } = fakeExec(() => ({}));
    const run = await runScan({ stack: "dev", scanner: "grype" }, { exec, which: (n) => (n === "trivy" ? "/usr/bin/trivy" : undefined), root: project() });
    expect(run.exitCode).toBe(2);
    expect(run.report).toMatch(/^scan: NOT RUN\. grype \(asked for with --scanner\) is not on PATH/);
  });

  test("trivy scans the pinned images the stack deploys (dev: with the broker and bridge; stack platform), the simulator image and both SBOMs; a HIGH finding fails", async () => {
    const root = project();
    const { exec, calls } = fakeExec((command, args) => {
      if (command === "docker") return { stdout: "sha256:abc\n" };
      if (args[0] === "--version") return { stdout: "Version: 0.0.0-standin\n" };
      if (args.includes(GRAFANA_IMAGE)) return { stdout: fixture("trivy-image-high.json") };
      if (args[0] === "sbom") return { stdout: fixture("trivy-sbom-empty.json") };
      return { stdout: fixture("trivy-image-clean.json") };
    });
    const run = await runScan({ stack: "dev" }, { exec, which: (n) => (n === "trivy" ? "/usr/bin/trivy" : undefined), root });
    const simulator = await simulatorImageRef("dev", root);
    expect(simulator).toMatch(/^iot-dev-simulator:0\.1\.0-[0-9a-f]{12}$/);
    expect(calls).toEqual([
      "trivy --version",
      `docker image inspect --format {{.Id}} ${simulator}`,
      `trivy image --format json --quiet --scanners vuln --platform linux/amd64 ${INFLUXDB_IMAGE}`,
      `trivy image --format json --quiet --scanners vuln --platform linux/amd64 ${GRAFANA_IMAGE}`,
      `trivy image --format json --quiet --scanners vuln --platform linux/amd64 ${MOSQUITTO_IMAGE}`,
      `trivy image --format json --quiet --scanners vuln --platform linux/amd64 ${TELEGRAF_IMAGE}`,
      `trivy image --format json --quiet --scanners vuln ${simulator}`,
      `trivy sbom --format json --quiet ${join(root, "sbom", "secure-iot-stack.cdx.json")}`,
      `trivy sbom --format json --quiet ${join(root, "sbom", "iot-sensor-simulator.cdx.json")}`,
    ]);
    expect(run.exitCode).toBe(1);
    const lines = run.report.split("\n");
    expect(lines[0]).toBe("scan with trivy (Version: 0.0.0-standin): HIGH and CRITICAL findings fail, a target not scanned fails");
    expect(lines.filter((l) => l.startsWith("  FAIL"))).toEqual([`  FAIL  Grafana image (pinned) (${GRAFANA_IMAGE}): 2 HIGH or CRITICAL (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW, 1 UNKNOWN)`]);
    expect(lines.at(-1)).toBe("6 passed, 1 failed, 0 skipped");
  });

  test("a stack without MQTT devices (simMqttDevices 0, no devices) does not scan the broker and bridge images", async () => {
    const root = project();
    writeFileSync(join(root, "Pulumi.dev.yaml"), readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8").replace(/simMqttDevices: \d+/, "simMqttDevices: 0"));
    const { exec, calls } = fakeExec((command, args) => (command === "docker" ? { stdout: "sha256:abc\n" } : args[0] === "--version" ? { stdout: "Version: 0\n" } : { stdout: fixture("trivy-image-clean.json") }));
    await runScan({ stack: "dev" }, { exec, which: (n) => (n === "trivy" ? "/usr/bin/trivy" : undefined), root });
    expect(calls.some((c) => c.includes(MOSQUITTO_IMAGE) || c.includes(TELEGRAF_IMAGE))).toBe(false);
    expect(calls.some((c) => c.includes(INFLUXDB_IMAGE))).toBe(true);
  });

  test("a scanner that fails (e.g. its database cannot be downloaded) leaves that target NOT SCANNED, exit 2", async () => {
    const { exec } = fakeExec((command, args) => {
      if (command === "docker") return { stdout: "sha256:abc\n" };
      if (args[0] === "version") return { stdout: "Application: grype\n" };
      if (args[0] === INFLUXDB_IMAGE) return { status: 1, stderr: "[0000] ERROR failed to load vulnerability db: unable to update vulnerability database\n" };
      return { stdout: fixture("grype-sbom-clean.json") };
    });
    const run = await runScan({ stack: "dev" }, { exec, which: (n) => (n === "grype" ? "/usr/bin/grype" : undefined), root: project() });
    expect(run.exitCode).toBe(2);
    expect(run.report).toContain(`  FAIL  InfluxDB image (pinned) (${INFLUXDB_IMAGE}): NOT SCANNED: grype exited 1: [0000] ERROR failed to load vulnerability db: unable to update vulnerability database`);
    expect(run.report.split("\n").at(-1)).toBe("6 passed, 1 failed, 0 skipped");
  });

  test("a simulator image that is not on the Docker host and missing SBOMs are NOT SCANNED, with what to do", async () => {
    const { exec, calls } = fakeExec((command) =>
      command === "docker" ? { status: 1, stderr: "Error: No such image: iot-dev-simulator:0.1.0-x\n" } : { stdout: fixture("trivy-image-clean.json") },
    );
    const run = await runScan({ stack: "dev" }, { exec, which: (n) => (n === "trivy" ? "/usr/bin/trivy" : undefined), root: project({ sboms: false }) });
    expect(run.exitCode).toBe(2);
    expect(run.report).toMatch(/simulator image \(stack dev\) \(iot-dev-simulator:0\.1\.0-[0-9a-f]{12}\): NOT SCANNED: the image is not on the Docker host \(Error: No such image: .*\): deploy the stack \(npm run up -- --stack dev\), or build it with `docker build -t iot-dev-simulator:0\.1\.0-[0-9a-f]{12} simulator`/);
    expect(run.report).toContain("NOT SCANNED: the SBOM file does not exist: run npm run sbom first");
    // the four pinned images of the dev stack (InfluxDB, Grafana, broker, bridge); not the missing simulator image
    expect(calls.filter((c) => c.startsWith("trivy image")).length).toBe(4);
    expect(calls.some((c) => c.startsWith("trivy sbom"))).toBe(false);
  });

  test("a scanner that prints something other than its JSON report: NOT SCANNED, never a pass", async () => {
    const { exec } = fakeExec((command) => (command === "docker" ? { stdout: "sha256:abc" } : { stdout: "Total: 0 (UNKNOWN: 0, LOW: 0)" }));
    const run = await runScan({ stack: "dev", simulatorImage: "sim:local" }, { exec, which: (n) => (n === "trivy" ? "/usr/bin/trivy" : undefined), root: project() });
    expect(run.exitCode).toBe(2);
    expect(run.report).not.toMatch(/PASS/);
    expect(run.report).toContain("  FAIL  simulator image (stack dev) (sim:local): NOT SCANNED: trivy did not print a JSON report");
  });
});

test("the simulator image scanned is the one the program builds for the stack (same name and tag)", async () => {
  for (const stack of ["dev", "prod"]) {
    const run = await runUnderMocks(stack, stackConfig(stack));
    const built = run.resources.filter((r) => r.type === "docker:index/image:Image").map((r) => r.inputs.imageName);
    expect(built).toEqual([await simulatorImageRef(stack, ROOT)]);
  }
});

test("scanner versions and error lines as the real scanners print them", () => {
  // grype v0.121.2 built from its module (`grype version`), and its error line without a database
  expect(scannerVersionOf("Application:         grype\nVersion:             [not provided]\nBuildDate:           [not provided]\n")).toBe("Version: [not provided]");
  expect(scannerVersionOf("Version: 0.74.0\n")).toBe("Version: 0.74.0");
  expect(stripAnsi("[0000] ERROR \u001b[31mfailed to load vulnerability db: database does not exist\u001b[0m")).toBe("[0000] ERROR failed to load vulnerability db: database does not exist");
});

describe("arguments", () => {
  test("defaults and every option", () => {
    expect(parseArgs([])).toEqual({ stack: "dev", json: false });
    expect(parseArgs(["--stack", "prod", "--scanner", "grype", "--simulator-image", "x:1", "--json"])).toEqual({
      stack: "prod",
      scanner: "grype",
      simulatorImage: "x:1",
      json: true,
    });
  });
  test("refused", () => {
    expect(() => parseArgs(["--scanner", "clair"])).toThrow("--scanner is trivy or grype");
    expect(() => parseArgs(["--stack"])).toThrow("--stack needs a value");
    expect(() => parseArgs(["--fast"])).toThrow("unknown argument --fast");
  });
});
