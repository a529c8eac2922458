// InfluxDB's first setup as the official image's entrypoint performs it
// (influxdata-docker, influxdb/2.9/entrypoint.sh), against the real server, with the real CLI:
//   1. the _FILE variables are read (`VAR=$(cat file)`, so trailing newlines go);
//   2. ensure_init_vars_set: username, password, org and bucket must be set;
//   3. setup_influxd: `influx setup --force --username … --password … --org … --bucket …
//      --name $DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME [--retention …] [--token …]` (the image sets the
//      config name to "default"), which writes the CLI config to INFLUX_CONFIGS_PATH;
//   4. set_init_resource_ids: DOCKER_INFLUXDB_INIT_USER_ID/ORG_ID/BUCKET_ID from
//      `influx user|org|bucket list -n <name> --hide-headers | cut -f 1`, exported;
//   5. run_user_scripts: `run-parts --regex ".*sh$" --report --exit-on-error /docker-entrypoint-initdb.d`,
//      with the container's environment plus those exports and INFLUX_HOST.
//
// What this does NOT cover of the image (we cannot ship its entrypoint here), stated plainly:
//  - the temporary influxd the entrypoint boots for setup on :$INFLUXD_INIT_PORT (9999) with TLS
//    switched off (its dasel-generated /tmp/config.json) and pings with `influx ping`; here setup and
//    the init scripts talk to the final server, over TLS (INFLUX_HOST=https://localhost:<port>, the
//    test CA trusted through SSL_CERT_FILE, which Go's crypto/x509 honours on Linux);
//  - its directory creation, chmod and chown of the data and config directories (create_directories),
//    and the step down from root with setpriv; here everything runs as the test's user;
//  - cleanup_influxd, which deletes the bolt file and the engine when setup or a script fails;
//  - the final `sed -i` that rewrites the CLI config's URL from the temporary instance to the final
//    one (here setup already writes the final URL);
//  - the `upgrade` mode.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Declared } from "./program";
import type { Server } from "./influxd";
import { BIN_DIR, INFLUX } from "./tier";

/** The image's ENV defaults (influxdata-docker influxdb/2.9/Dockerfile). */
export const IMAGE_ENV = {
  INFLUX_CONFIGS_PATH: "/etc/influxdb2/influx-configs",
  DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME: "default",
};
export const USER_SCRIPT_DIR = "/docker-entrypoint-initdb.d";

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; never throws for a non-zero status. */
export function runCommand(command: string, args: string[], env: Record<string, string>, timeoutMs = 30_000, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args[0] ?? ""}: still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

export interface Setup {
  username: string;
  password: string;
  org: string;
  bucket: string;
  retention?: string;
  operatorToken?: string;
  ids: { user: string; org: string; bucket: string };
  /** the environment the CLI runs with: the server, the CLI config setup wrote, the test CA */
  cliEnv: Record<string, string>;
  /** the environment the init scripts ran with */
  scriptEnv: Record<string, string>;
  setupOutput: string;
  scriptsOutput: string;
  /** which secrets (by name) appeared in the CLI's or the scripts' own output, unmasked */
  leaks: string[];
}

/** Runs the real influx CLI against the server with the CLI config setup wrote (the operator's). */
export function influx(setupOrEnv: Pick<Setup, "cliEnv">, args: string[], timeoutMs = 30_000): Promise<Run> {
  return runCommand(INFLUX, args, setupOrEnv.cliEnv, timeoutMs);
}

function cliEnvironment(server: Server, configsPath: string): Record<string, string> {
  return {
    PATH: `${BIN_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: join(server.dir, "home"),
    INFLUX_HOST: server.url,
    INFLUX_CONFIGS_PATH: configsPath,
    SSL_CERT_FILE: server.caFile,
  };
}

export class SetupError extends Error {}

/** The container's environment with container paths mapped to the server's directory. */
export function containerEnv(server: Server, declaredEnv: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(declaredEnv).map(([k, v]) => [k, v.startsWith("/") ? server.path(v) : v]));
}

export async function firstSetup(server: Server, decl: Declared): Promise<Setup> {
  const e = decl.influxdb.env;
  if (e.DOCKER_INFLUXDB_INIT_MODE !== "setup") throw new SetupError(`DOCKER_INFLUXDB_INIT_MODE is ${e.DOCKER_INFLUXDB_INIT_MODE}, not setup`);
  const fromFile = (name: string): string | undefined => {
    const file = e[`${name}_FILE`];
    if (file === undefined) return e[name];
    const local = server.path(file);
    if (!existsSync(local)) throw new SetupError(`${name}_FILE=${file} does not exist in the container`);
    return readFileSync(local, "utf8").replace(/\n+$/, "");
  };
  const username = fromFile("DOCKER_INFLUXDB_INIT_USERNAME");
  const password = fromFile("DOCKER_INFLUXDB_INIT_PASSWORD");
  const operatorToken = fromFile("DOCKER_INFLUXDB_INIT_ADMIN_TOKEN");
  const org = e.DOCKER_INFLUXDB_INIT_ORG;
  const bucket = e.DOCKER_INFLUXDB_INIT_BUCKET;
  const retention = e.DOCKER_INFLUXDB_INIT_RETENTION || undefined;
  const missing = Object.entries({ DOCKER_INFLUXDB_INIT_USERNAME: username, DOCKER_INFLUXDB_INIT_PASSWORD: password, DOCKER_INFLUXDB_INIT_ORG: org, DOCKER_INFLUXDB_INIT_BUCKET: bucket })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) throw new SetupError(`missing parameter, cannot init InfluxDB: ${missing.join(", ")}`);
  if (password) server.addSecret(password);
  if (operatorToken) server.addSecret(operatorToken);

  const configsPath = server.path(e.INFLUX_CONFIGS_PATH ?? IMAGE_ENV.INFLUX_CONFIGS_PATH);
  const cliEnv = cliEnvironment(server, configsPath);
  const args = ["setup", "--force", "--username", username!, "--password", password!, "--org", org!, "--bucket", bucket!, "--name", e.DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME ?? IMAGE_ENV.DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME];
  if (retention) args.push("--retention", retention);
  if (operatorToken) args.push("--token", operatorToken);
  const setup = await runCommand(INFLUX, args, cliEnv);
  const setupOutput = server.redact(setup.stdout + setup.stderr);
  if (setup.status !== 0) throw new SetupError(`influx setup failed (exit ${setup.status}):\n${setupOutput}`);

  // set_init_resource_ids, word for word (the entrypoint runs under `set -eo pipefail`).
  const idOf = async (kind: string, name: string) => {
    const run = await runCommand("bash", ["-c", `set -eo pipefail; id="$(influx ${kind} list -n "$1" --hide-headers | cut -f 1)"; printf '%s' "$id"`, "set_init_resource_ids", name], cliEnv);
    if (run.status !== 0) throw new SetupError(`influx ${kind} list -n ${name} failed (exit ${run.status}): ${server.redact(run.stderr)}`);
    return run.stdout;
  };
  const ids = { user: await idOf("user", username!), org: await idOf("org", org!), bucket: await idOf("bucket", bucket!) };

  const scriptEnv: Record<string, string> = {
    ...containerEnv(server, e),
    ...cliEnv,
    DOCKER_INFLUXDB_INIT_USER_ID: ids.user,
    DOCKER_INFLUXDB_INIT_ORG_ID: ids.org,
    DOCKER_INFLUXDB_INIT_BUCKET_ID: ids.bucket,
  };
  const scripts = await runUserScripts(server.path(USER_SCRIPT_DIR), scriptEnv);
  const scriptsOutput = server.redact(scripts.stdout + scripts.stderr);
  if (scripts.status !== 0) throw new SetupError(`the init scripts failed (exit ${scripts.status}):\n${scriptsOutput}`);
  const raw = setup.stdout + setup.stderr + scripts.stdout + scripts.stderr;
  const leaks = Object.entries({ password, operatorToken }).filter(([, v]) => v && raw.includes(v)).map(([k]) => k);
  return { username: username!, password: password!, org: org!, bucket: bucket!, retention, operatorToken, ids, cliEnv, scriptEnv, setupOutput, scriptsOutput, leaks };
}

/** run-parts as the entrypoint calls it; without run-parts, the same selection run in the same order. */
async function runUserScripts(dir: string, env: Record<string, string>): Promise<Run> {
  if (!existsSync(dir)) return { status: 0, stdout: "", stderr: "" };
  const runParts = ["/usr/bin/run-parts", "/bin/run-parts"].find((p) => existsSync(p));
  if (runParts) return runCommand(runParts, ["--regex", ".*sh$", "--report", "--exit-on-error", dir], env, 60_000);
  let stdout = "";
  let stderr = "";
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    if (!/sh$/.test(name) || !statSync(file).isFile() || (statSync(file).mode & 0o111) === 0) continue;
    const run = await runCommand(file, [], env, 60_000);
    stdout += `${file}:\n${run.stdout}`;
    stderr += run.stderr;
    if (run.status !== 0) return { status: run.status, stdout, stderr };
  }
  return { status: 0, stdout, stderr };
}
