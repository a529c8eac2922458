// Reads simulator/Dockerfile into stages and instructions, and runs one stage's instructions on this
// machine (WORKDIR, ARG, ENV, COPY from the context, RUN under /bin/sh) in a scratch directory that
// stands for the container's filesystem. No Docker engine is needed, so the build steps (npm ci, the
// SBOM, the build, the prune) are checked on every test run; the real engine build is the e2e tier.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

export const SIMULATOR_DIR = resolve(__dirname, "../..");

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM */
  globalArgs: Instruction[];
  stages: Stage[];
}

/** Joins continuation lines (the escape and the newline are removed, as Docker does), drops comments and blank lines, splits into stages. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const instructions: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && current === undefined)) return;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, "") : raw;
    current = current ? { text: current.text + part, line: current.line } : { text: part, line: index + 1 };
    if (!continued) {
      const body = current.text.trim();
      const match = /^(\S+)\s*([\s\S]*)$/.exec(body);
      if (match) instructions.push({ keyword: match[1].toUpperCase(), args: match[2], line: current.line });
      current = undefined;
    }
  });
  const parsed: ParsedDockerfile = { globalArgs: [], stages: [] };
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [from, as, name] = instruction.args.split(/\s+/);
      parsed.stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (parsed.stages.length === 0) {
      if (instruction.keyword !== "ARG") throw new Error(`line ${instruction.line}: only ARG may precede FROM`);
      parsed.globalArgs.push(instruction);
    } else {
      parsed.stages[parsed.stages.length - 1].instructions.push(instruction);
    }
  }
  return parsed;
}

export function readSimulatorDockerfile(): ParsedDockerfile {
  return parseDockerfile(readFileSync(join(SIMULATOR_DIR, "Dockerfile"), "utf8"));
}

/** `NAME=default` or `NAME` of an ARG instruction. */
export function argName(instruction: Instruction): string {
  return instruction.args.split("=")[0].trim();
}

export interface StageRun {
  ok: boolean;
  /** the scratch directory that stands for the container's "/" */
  root: string;
  /** the stage's last WORKDIR, inside root */
  workdir: string;
  /** the failing instruction and its output, when !ok */
  failure?: string;
  /** output of every RUN, in order */
  output: string;
}

export interface StageRunOptions {
  context: string;
  stage: Stage;
  /** --build-arg values; only ARGs the stage declares reach its RUN steps, as with Docker */
  buildArgs?: Record<string, string>;
  /** the environment the RUN steps start from (PATH, HOME, npm settings), standing for the base image's */
  baseEnv: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Runs the stage's instructions in order and stops at the first failing one. RUN steps run
 * asynchronously, so that servers in the test process (a fake registry) keep answering.
 */
export async function runStage(options: StageRunOptions): Promise<StageRun> {
  const root = mkdtempSync(join(tmpdir(), "sim-docker-stage-"));
  const env: Record<string, string> = { ...options.baseEnv };
  let workdir = root;
  let output = "";
  const inRoot = (path: string) => (path.startsWith("/") ? join(root, path) : resolve(workdir, path));
  for (const instruction of options.stage.instructions) {
    const where = `line ${instruction.line}: ${instruction.keyword} ${instruction.args}`;
    switch (instruction.keyword) {
      case "WORKDIR":
        workdir = inRoot(instruction.args.trim());
        mkdirSync(workdir, { recursive: true });
        break;
      case "ARG": {
        const [name, ...rest] = instruction.args.trim().split("=");
        const fallback = rest.length > 0 ? rest.join("=").replace(/^"(.*)"$/, "$1") : undefined;
        const value = options.buildArgs?.[name] ?? fallback;
        if (value !== undefined) env[name] = value;
        break;
      }
      case "ENV": {
        const match = /^(\S+?)=(.*)$/.exec(instruction.args.trim());
        if (!match) throw new Error(`${where}: only ENV key=value is supported`);
        env[match[1]] = match[2];
        break;
      }
      case "COPY": {
        const parts = instruction.args.trim().split(/\s+/);
        if (parts.some((p) => p.startsWith("--"))) throw new Error(`${where}: COPY flags are not supported in a build stage run`);
        const destination = parts.pop() as string;
        const target = inRoot(destination);
        for (const source of parts) {
          const from = join(options.context, source);
          if (!existsSync(from)) return { ok: false, root, workdir, output, failure: `${where}: ${source} is not in the context` };
          if (statSync(from).isDirectory()) cpSync(from, target, { recursive: true });
          else {
            const intoDirectory = destination.endsWith("/") || parts.length > 1;
            if (intoDirectory) mkdirSync(target, { recursive: true });
            cpSync(from, intoDirectory ? join(target, basename(source)) : target);
          }
        }
        break;
      }
      case "RUN": {
        if (instruction.args.trim().startsWith("[")) throw new Error(`${where}: exec-form RUN is not supported`);
        const result = await runShell(instruction.args, workdir, env, options.timeoutMs ?? 120_000);
        output += `$ ${instruction.args}\n${result.stdout}${result.stderr}`;
        if (result.status !== 0) {
          return { ok: false, root, workdir, output, failure: `${where}\nexit ${result.status}\n${result.stderr}` };
        }
        break;
      }
      default:
        // instructions that only describe the image (USER, HEALTHCHECK, ...) change nothing here
        break;
    }
  }
  return { ok: true, root, workdir, output };
}

interface ShellResult {
  status: number | string;
  stdout: string;
  stderr: string;
}

/** `/bin/sh -c command`, killed at the deadline (the result then says so). */
function runShell(command: string, cwd: string, env: Record<string, string>, timeoutMs: number): Promise<ShellResult> {
  return new Promise((resolvePromise) => {
    const child = spawn("/bin/sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ status: timedOut ? `killed after ${timeoutMs} ms` : (code ?? String(signal)), stdout, stderr });
    });
  });
}
