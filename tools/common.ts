// Shared by the operations tools (npm run sbom / scan / verify): running commands, the project
// root, reading a stack's configuration from its files, and the report every tool prints.
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { parse } from "yaml";

/** The project folder: tools are compiled to tools/dist/tools/, sources live in tools/. */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "Pulumi.yaml")) && existsSync(join(dir, "package.json"))) return dir;
    dir = join(dir, "..");
  }
  throw new Error(`cannot find the project folder (Pulumi.yaml) above ${start}`);
}

export interface ExecResult {
  /** exit status; null when the process could not be started or was killed */
  status: number | null;
  stdout: string;
  stderr: string;
  /** set when the command could not be started at all (e.g. ENOENT) */
  error?: string;
}

export type Exec = (command: string, args: string[], options?: { cwd?: string; timeoutMs?: number }) => Promise<ExecResult>;

/** Runs a command without a shell; never throws, the caller decides what a failure means. */
export const exec: Exec = (command, args, options = {}) =>
  new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 10 * 60_000, maxBuffer: 512 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        if (error && typeof code === "string") {
          resolve({ status: null, stdout: stdout ?? "", stderr: stderr ?? "", error: `${command}: ${error.message}` });
          return;
        }
        const status = error ? ((error as { code?: number }).code ?? null) : 0;
        resolve({ status: typeof status === "number" ? status : null, stdout: stdout ?? "", stderr: stderr ?? "" });
      },
    );
  });

/** The first executable named `name` on PATH, or undefined. */
export function which(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      // X_OK: an executable file, the way a shell would find it
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * A stack's configuration as its files state it, without the Pulumi CLI: Pulumi.yaml's defaults,
 * then Pulumi.<stack>.yaml. Encrypted (secure) values are left out: tools that read this never
 * need a secret. "project:key" to the string the engine would pass, like loadSettings expects.
 */
export function stackFileConfig(stack: string, root = ROOT): Record<string, string> {
  const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8"));
  const name = String(project.name);
  const config: Record<string, string> = {};
  for (const [key, spec] of Object.entries<any>(project.config ?? {})) {
    if (spec && typeof spec === "object" && "default" in spec) config[`${name}:${key}`] = configString(spec.default);
  }
  const stackPath = join(root, `Pulumi.${stack}.yaml`);
  if (existsSync(stackPath)) {
    const stackFile = parse(readFileSync(stackPath, "utf8")) ?? {};
    for (const [key, value] of Object.entries(stackFile.config ?? {})) {
      if (value && typeof value === "object" && "secure" in (value as object)) continue;
      config[key] = configString(value);
    }
  }
  return config;
}

export function configString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// --- reports -------------------------------------------------------------------------------------

/** pass: checked and fine; fail: checked and wrong, or could not be checked although it should be; skip: not applicable, said why. */
export type Status = "pass" | "fail" | "skip";

export interface CheckResult {
  name: string;
  status: Status;
  /** one line a person can read */
  summary: string;
  /** further lines: what was seen */
  details?: string[];
}

export function counts(results: CheckResult[]): Record<Status, number> {
  const c: Record<Status, number> = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) c[r.status]++;
  return c;
}

const LABEL: Record<Status, string> = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

/** The human report: one line per check, its details indented, and a closing count line. */
export function formatReport(title: string, results: CheckResult[]): string {
  const lines = [title];
  for (const r of results) {
    lines.push(`  ${LABEL[r.status]}  ${r.name}: ${r.summary}`);
    for (const d of r.details ?? []) lines.push(`          ${d}`);
  }
  const c = counts(results);
  lines.push(`${c.pass} passed, ${c.fail} failed, ${c.skip} skipped`);
  return lines.join("\n");
}
