// How npm run backup and npm run restore reach a deployed stack's InfluxDB: the operator token
// from the stack's outputs (decrypted by the Pulumi CLI with the state backend and passphrase the
// scripts set up), the container by its name, the org, bucket and TLS as the container was
// configured, and the consumers by their container names. What runs there is tools/influx-backup.ts.
import { BackupError, containerPaths, dockerShell, spawnCollect, type Consumers, type Target } from "./influx-backup";
import { exec as realExec, type Exec } from "./common";

/** Containers are named iot-<stack>-<component> (settings.ts namePrefix, components/hardening.ts). */
export const containerName = (stack: string, component: string) => `iot-${stack}-${component}`;

/** The containers that read a scoped token at start (simulator, Grafana, the MQTT bridge). */
export const CONSUMER_CONTAINERS = ["simulator", "grafana", "bridge"];

/**
 * The operator token, `pulumi stack output influxdbOperatorToken --show-secrets --json`: read from
 * the CLI's stdout into memory, never printed; a failure shows Pulumi's reason, never its stdout.
 */
export async function operatorToken(stack: string, exec: Exec = realExec): Promise<string> {
  const r = await exec("pulumi", ["stack", "output", "influxdbOperatorToken", "--show-secrets", "--json", "--stack", stack], { timeoutMs: 120_000 });
  if (r.status !== 0) {
    const lines = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
    const reason = r.error ?? (lines.filter((l) => /^error:/i.test(l)).pop() ?? lines.pop() ?? `pulumi exited with status ${r.status}`).replace(/^error:\s*/i, "");
    throw new BackupError(`cannot read the operator token of stack ${stack} (has it been deployed with npm run up -- --stack ${stack}?): ${reason}`);
  }
  let token: unknown;
  try {
    token = JSON.parse(r.stdout);
  } catch {
    token = undefined;
  }
  if (typeof token !== "string" || token.length < 16) throw new BackupError(`stack ${stack} has no influxdbOperatorToken output: deploy it again with this version (npm run up -- --stack ${stack})`);
  return token;
}

/** The stack's InfluxDB container: its org, bucket and whether it serves TLS, as the container was configured (no token needed). */
export async function stackTarget(stack: string, token: string, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const container = containerName(stack, "influxdb");
  const shell = dockerShell(container, env);
  const probe = await shell.run(`printf '%s\\n%s\\n%s\\n' "\${DOCKER_INFLUXDB_INIT_ORG:-}" "\${DOCKER_INFLUXDB_INIT_BUCKET:-}" "\${INFLUXD_TLS_CERT:-}"`, [], undefined, 60_000);
  if (probe.status !== 0) {
    const reason = probe.error ?? (probe.stderr.trim().split("\n").pop() || `docker exec exited with ${probe.status}`);
    throw new BackupError(`cannot reach the container ${container} (is stack ${stack} up? npm run up -- --stack ${stack}): ${reason}`);
  }
  const [org, bucket, tlsCert] = probe.stdout.toString("utf8").split("\n");
  if (!org || !bucket) throw new BackupError(`the container ${container} has no DOCKER_INFLUXDB_INIT_ORG/BUCKET: not this project's InfluxDB`);
  return { shell, paths: containerPaths(Boolean(tlsCert)), operatorToken: token, stack, org, bucket };
}

/** Stops the consumer containers that run, and starts those again: they read their token at start. */
export function dockerConsumers(stack: string, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = () => undefined): Consumers {
  const stopped: string[] = [];
  const docker = async (args: string[]) => {
    const r = await spawnCollect("docker", args, undefined, env, 120_000);
    return { ok: r.status === 0, out: r.stdout.toString("utf8").trim(), err: r.error ?? r.stderr.trim() };
  };
  return {
    async stop() {
      for (const component of CONSUMER_CONTAINERS) {
        const name = containerName(stack, component);
        const state = await docker(["inspect", "--format", "{{.State.Running}}", name]);
        if (!state.ok || state.out !== "true") continue; // not deployed (no devices: no bridge), or not running
        const r = await docker(["stop", name]);
        if (!r.ok) throw new BackupError(`docker stop ${name} failed, nothing restored: ${r.err}`);
        stopped.push(name);
      }
      log(`stopped ${stopped.join(", ") || "no consumer (none was running)"} while the data is replaced`);
    },
    async start() {
      for (const name of stopped) {
        const r = await docker(["start", name]);
        if (!r.ok) throw new BackupError(`restored, but docker start ${name} failed: ${r.err}; start it with npm run up -- --stack ${stack}`);
      }
      log(`started ${stopped.join(", ") || "nothing"} again`);
    },
  };
}

/** Prints a refusal or failure as one line and sets the exit status; anything else is a bug, shown whole. */
export function reportFailure(error: unknown): void {
  if (error instanceof BackupError) {
    process.stderr.write(`error: ${error.message.split("\n")[0]}\n`);
  } else {
    process.stderr.write(`error: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
}
