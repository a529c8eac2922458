// npm run scan: scans the pinned InfluxDB and Grafana images, the simulator image built for a
// stack, and the SBOMs of `npm run sbom` with trivy or grype, whichever is installed; fails on any
// HIGH or CRITICAL finding. A target that could not be scanned is reported as NOT SCANNED and
// fails the run: a scan that did not run is never a pass. Without either scanner nothing is
// scanned, the run says so and how to install one, and exits 2.
//
// The scanners' JSON reports are read here, not their exit codes, so the decision is ours and is
// unit-tested on fixtures (test/tools/scan.test.ts):
// - trivy: Report.Results[].Vulnerabilities[] with VulnerabilityID, PkgName, InstalledVersion,
//   Severity (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL); Results and Vulnerabilities are left out when
//   empty (aquasecurity/trivy pkg/types/report.go, `json:",omitempty"`).
// - grype: Document.matches[] (always present, [] when clean) with vulnerability.id,
//   vulnerability.severity (Negligible, Low, Medium, High, Critical, Unknown) and artifact.name,
//   artifact.version (anchore/grype grype/presenter/models/document.go, match.go).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GRAFANA_IMAGE, INFLUXDB_IMAGE, MOSQUITTO_IMAGE, TELEGRAF_IMAGE } from "../components/images";
import { exec as realExec, type CheckResult, counts, type Exec, formatReport, ROOT, stackFileConfig, which as realWhich } from "./common";
import { PACKAGES, SBOM_DIR } from "./sbom";

export const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Findings of these severities fail the scan. */
export const BLOCKING: ReadonlySet<Severity> = new Set<Severity>(["CRITICAL", "HIGH"]);

export interface Finding {
  id: string;
  pkg: string;
  version?: string;
  severity: Severity;
}

export function normaliseSeverity(value: unknown): Severity {
  const upper = String(value ?? "").toUpperCase();
  return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : "UNKNOWN";
}

function parseJson(text: string, scanner: string): any {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${scanner} did not print a JSON report: ${(error as Error).message}`);
  }
}

/** Findings of a trivy JSON report (`trivy image|sbom --format json`). */
export function parseTrivy(text: string): Finding[] {
  const report = parseJson(text, "trivy");
  if (!report || typeof report !== "object" || typeof report.SchemaVersion !== "number") {
    throw new Error("not a trivy JSON report (no SchemaVersion)");
  }
  const findings: Finding[] = [];
  for (const result of report.Results ?? []) {
    for (const v of result?.Vulnerabilities ?? []) {
      findings.push({ id: String(v.VulnerabilityID), pkg: String(v.PkgName), version: v.InstalledVersion, severity: normaliseSeverity(v.Severity) });
    }
  }
  return findings;
}

/** Findings of a grype JSON report (`grype <source> -o json`). */
export function parseGrype(text: string): Finding[] {
  const doc = parseJson(text, "grype");
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.matches)) {
    throw new Error("not a grype JSON report (no matches array)");
  }
  return doc.matches.map((m: any) => ({
    id: String(m?.vulnerability?.id),
    pkg: String(m?.artifact?.name),
    version: m?.artifact?.version,
    severity: normaliseSeverity(m?.vulnerability?.severity),
  }));
}

export type ScannerName = "trivy" | "grype";
export const SCANNERS: ScannerName[] = ["trivy", "grype"];

export interface Target {
  kind: "image" | "sbom";
  /** image reference, or SBOM file path */
  ref: string;
  /** what it is, for people */
  label: string;
  /** pass --platform (pinned multi-platform images) */
  platform?: string;
  /** set when it is known before scanning that it cannot be scanned */
  unavailable?: string;
}

/** The command line that scans one target and prints a JSON report on stdout. */
export function scannerArgs(scanner: ScannerName, target: Target): string[] {
  if (scanner === "trivy") {
    const platform = target.platform ? ["--platform", target.platform] : [];
    return target.kind === "image"
      ? ["image", "--format", "json", "--quiet", "--scanners", "vuln", ...platform, target.ref]
      : ["sbom", "--format", "json", "--quiet", target.ref];
  }
  const platform = target.platform ? ["--platform", target.platform] : [];
  // Not -q: grype's quiet mode also silences its errors (e.g. "failed to load vulnerability db"),
  // which are then the only explanation of a target NOT SCANNED. Its log goes to stderr, the report to stdout.
  return target.kind === "image" ? [target.ref, "-o", "json", ...platform] : [`sbom:${target.ref}`, "-o", "json"];
}

export interface Outcome {
  target: Target;
  /** undefined: scanned; otherwise why it was not */
  notScanned?: string;
  findings: Finding[];
}

function bySeverity(findings: Finding[]): string {
  const parts: string[] = [];
  for (const s of SEVERITIES) {
    const n = findings.filter((f) => f.severity === s).length;
    if (n > 0) parts.push(`${n} ${s}`);
  }
  return parts.length > 0 ? parts.join(", ") : "no findings";
}

/** One report line per target: FAIL when not scanned or when it has HIGH/CRITICAL findings. */
export function judge(outcomes: Outcome[]): CheckResult[] {
  return outcomes.map(({ target, notScanned, findings }) => {
    const name = `${target.label} (${target.ref})`;
    if (notScanned !== undefined) return { name, status: "fail", summary: `NOT SCANNED: ${notScanned}` };
    const blocking = findings.filter((f) => BLOCKING.has(f.severity));
    if (blocking.length === 0) return { name, status: "pass", summary: `no HIGH or CRITICAL finding (${bySeverity(findings)})` };
    return {
      name,
      status: "fail",
      summary: `${blocking.length} HIGH or CRITICAL (${bySeverity(findings)})`,
      details: blocking.map((f) => `${f.severity} ${f.id} in ${f.pkg}${f.version ? ` ${f.version}` : ""}`),
    };
  });
}

/** 0: everything scanned, nothing HIGH or CRITICAL; 1: HIGH or CRITICAL findings; 2: something (or everything) was not scanned. */
export function exitCode(outcomes: Outcome[]): number {
  if (outcomes.some((o) => o.notScanned === undefined && o.findings.some((f) => BLOCKING.has(f.severity)))) return 1;
  if (outcomes.length === 0 || outcomes.some((o) => o.notScanned !== undefined)) return 2;
  return 0;
}

export const NO_SCANNER_MESSAGE = [
  "scan: NOT RUN. No vulnerability scanner found: neither trivy nor grype is on PATH, so nothing was scanned (this is not a pass).",
  "Install one of them and run `npm run scan` again; both download their vulnerability database on first use:",
  "  trivy: https://github.com/aquasecurity/trivy (installation: e.g. `brew install trivy`, or its apt repository for Debian/Ubuntu)",
  "  grype: https://github.com/anchore/grype (installation: e.g. `brew install grype`, or its install script)",
].join("\n");

export interface ScanOptions {
  stack: string;
  scanner?: ScannerName;
  simulatorImage?: string;
}

export interface ScanDeps {
  exec: Exec;
  which: (name: string) => string | undefined;
  root: string;
}

/** The image `pulumi up` builds for a stack: components/simulator.ts names it iot-<stack>-simulator:<version>-<source hash>. */
export async function simulatorImageRef(stack: string, root: string): Promise<string> {
  const { sourceHash } = await import("../components/simulator");
  const dir = join(root, "simulator");
  const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version as string;
  return `iot-${stack}-simulator:${version}-${sourceHash(dir).slice(0, 12)}`;
}

/** Whether the stack deploys the broker and the bridge: some devices or simulated MQTT devices (settings.ts). */
function declaresMqtt(config: Record<string, string>): boolean {
  let devices: unknown;
  try {
    devices = JSON.parse(config["secure-iot:devices"] ?? "[]");
  } catch {
    devices = [];
  }
  return (Array.isArray(devices) && devices.length > 0) || Number(config["secure-iot:simMqttDevices"] ?? "0") > 0;
}

export async function collectTargets(options: ScanOptions, deps: ScanDeps): Promise<Target[]> {
  const config = stackFileConfig(options.stack, deps.root);
  const platform = config["secure-iot:dockerPlatform"] ?? "linux/amd64";
  const targets: Target[] = [
    { kind: "image", ref: INFLUXDB_IMAGE, label: "InfluxDB image (pinned)", platform },
    { kind: "image", ref: GRAFANA_IMAGE, label: "Grafana image (pinned)", platform },
  ];
  if (declaresMqtt(config)) {
    targets.push(
      { kind: "image", ref: MOSQUITTO_IMAGE, label: "MQTT broker image (pinned)", platform },
      { kind: "image", ref: TELEGRAF_IMAGE, label: "MQTT bridge image (pinned)", platform },
    );
  }
  const simulator = options.simulatorImage ?? (await simulatorImageRef(options.stack, deps.root));
  const simulatorTarget: Target = { kind: "image", ref: simulator, label: `simulator image (stack ${options.stack})` };
  const inspect = await deps.exec("docker", ["image", "inspect", "--format", "{{.Id}}", simulator], { timeoutMs: 60_000 });
  if (inspect.status !== 0) {
    simulatorTarget.unavailable =
      `the image is not on the Docker host (${inspect.error ?? inspect.stderr.trim().split("\n")[0] ?? `exit ${inspect.status}`}): ` +
      `deploy the stack (npm run up -- --stack ${options.stack}), or build it with \`docker build -t ${simulator} simulator\`, or name another with --simulator-image`;
  }
  targets.push(simulatorTarget);
  for (const pkg of PACKAGES) {
    const name = JSON.parse(readFileSync(join(deps.root, pkg.dir, "package.json"), "utf8")).name as string;
    const path = join(deps.root, SBOM_DIR, `${name}.cdx.json`);
    targets.push({
      kind: "sbom",
      ref: path,
      label: `SBOM of ${name}`,
      unavailable: existsSync(path) ? undefined : "the SBOM file does not exist: run npm run sbom first",
    });
  }
  return targets;
}

/** Terminal colour codes, which grype puts in its error lines even when stderr is not a terminal. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
}

/** The "Version: …" line of `trivy --version` or `grype version`, else their first line. */
export function scannerVersionOf(output: string): string | undefined {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  const version = lines.find((l) => /^Version:/.test(l));
  return (version ?? lines[0])?.replace(/\s+/g, " ");
}

export interface ScanRun {
  scanner?: ScannerName;
  scannerVersion?: string;
  outcomes: Outcome[];
  exitCode: number;
  report: string;
  json: Record<string, unknown>;
}

export async function runScan(options: ScanOptions, deps: ScanDeps): Promise<ScanRun> {
  const candidates = options.scanner ? [options.scanner] : SCANNERS;
  const scanner = candidates.find((name) => deps.which(name) !== undefined);
  if (!scanner) {
    const report = options.scanner
      ? `scan: NOT RUN. ${options.scanner} (asked for with --scanner) is not on PATH, so nothing was scanned (this is not a pass).\n${NO_SCANNER_MESSAGE.split("\n").slice(1).join("\n")}`
      : NO_SCANNER_MESSAGE;
    return { outcomes: [], exitCode: 2, report, json: { scanner: null, ran: false, exitCode: 2, reason: report } };
  }
  const versionRun = await deps.exec(scanner, [scanner === "trivy" ? "--version" : "version"], { timeoutMs: 60_000 });
  const scannerVersion = versionRun.status === 0 ? scannerVersionOf(versionRun.stdout) : undefined;
  const outcomes: Outcome[] = [];
  for (const target of await collectTargets(options, deps)) {
    if (target.unavailable) {
      outcomes.push({ target, notScanned: target.unavailable, findings: [] });
      continue;
    }
    const result = await deps.exec(scanner, scannerArgs(scanner, target), { timeoutMs: 30 * 60_000 });
    if (result.status !== 0) {
      const why = result.error ?? `${scanner} exited ${result.status}`;
      const tail = stripAnsi(result.stderr).trim().split("\n").map((l) => l.trim()).filter(Boolean).slice(-3).join(" / ");
      outcomes.push({ target, notScanned: `${why}${tail ? `: ${tail}` : ""}`, findings: [] });
      continue;
    }
    try {
      outcomes.push({ target, findings: scanner === "trivy" ? parseTrivy(result.stdout) : parseGrype(result.stdout) });
    } catch (error) {
      outcomes.push({ target, notScanned: (error as Error).message, findings: [] });
    }
  }
  const results = judge(outcomes);
  const code = exitCode(outcomes);
  const title = `scan with ${scanner}${scannerVersion ? ` (${scannerVersion})` : ""}: HIGH and CRITICAL findings fail, a target not scanned fails`;
  return {
    scanner,
    scannerVersion,
    outcomes,
    exitCode: code,
    report: formatReport(title, results),
    json: {
      scanner,
      scannerVersion: scannerVersion ?? null,
      ran: true,
      exitCode: code,
      counts: counts(results),
      targets: outcomes.map((o) => ({
        kind: o.target.kind,
        ref: o.target.ref,
        label: o.target.label,
        scanned: o.notScanned === undefined,
        notScanned: o.notScanned ?? null,
        findings: o.findings,
      })),
    },
  };
}

export function parseArgs(argv: string[]): ScanOptions & { json: boolean } {
  const options: ScanOptions & { json: boolean } = { stack: "dev", json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--stack") options.stack = value();
    else if (arg === "--scanner") {
      const v = value();
      if (v !== "trivy" && v !== "grype") throw new Error("--scanner is trivy or grype");
      options.scanner = v;
    } else if (arg === "--simulator-image") options.simulatorImage = value();
    else if (arg === "--json") options.json = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`scan: ${(error as Error).message}\nusage: npm run scan [-- --stack NAME] [-- --scanner trivy|grype] [-- --simulator-image REF] [-- --json]`);
    return 2;
  }
  const run = await runScan(options, { exec: realExec, which: (name) => realWhich(name), root: ROOT });
  if (options.json) console.log(JSON.stringify(run.json, null, 2));
  else console.log(run.report);
  return run.exitCode;
}

if (require.main === module) void main().then((code) => process.exit(code));
