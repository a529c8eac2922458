// npm run backup / restore's own code (tools/influx-backup.ts) pointed at this tier's influxd: the
// same scripts, run by `sh -c` as a local process next to the server instead of `docker exec` in
// the container, with the container paths mapped into the tier's copy of its filesystem (the
// backups volume, the consumers' token volumes, the staged scoped-tokens script) and the API at
// the test server's URL, verified with the test CA. Every run is recorded (argv and environment)
// so that a test can prove the operator token never appears in either.
import { BACKUPS_MOUNT, containerPaths, spawnCollect, type Paths, type Shell, type Target } from "../../../tools/influx-backup";
import type { Stack } from "./stack";
import { BIN_DIR } from "./tier";

export interface RecordedRun {
  argv: string[];
  env: Record<string, string>;
  stdin: string;
}

export interface LocalShell extends Shell {
  runs: RecordedRun[];
}

export function localShell(stack: Stack): LocalShell {
  const runs: RecordedRun[] = [];
  const env = { PATH: `${BIN_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: stack.server.path("/") };
  return {
    runs,
    run(script, args, stdin, timeoutMs = 120_000, stdoutFile) {
      const argv = ["sh", "-c", script, "sh", ...args];
      const input = stdin === undefined ? "" : typeof stdin === "object" && !Buffer.isBuffer(stdin) ? `<file ${stdin.fromFile}>` : stdin.toString();
      runs.push({ argv, env: { ...env }, stdin: input });
      return spawnCollect("sh", argv.slice(1), stdin, env, timeoutMs, stdoutFile);
    },
  };
}

/** The container's paths (tools/influx-backup.ts containerPaths) mapped into this server's filesystem. */
export function localPaths(stack: Stack): Paths {
  const inContainer = containerPaths(true);
  return {
    host: stack.server.url,
    caFile: stack.server.caFile,
    backupRoot: stack.server.path(inContainer.backupRoot),
    handoffDir: stack.server.path(inContainer.handoffDir),
    scopedTokensScript: stack.server.path(inContainer.scopedTokensScript),
  };
}

export function localTarget(stack: Stack, shell: Shell): Target {
  if (!stack.decl.influxdb.mounts.some((m) => m.target === BACKUPS_MOUNT)) throw new Error(`the program mounts no volume at ${BACKUPS_MOUNT} in InfluxDB's container`);
  return {
    shell,
    paths: localPaths(stack),
    operatorToken: stack.setup.operatorToken!,
    stack: "dev",
    org: stack.setup.org,
    bucket: stack.setup.bucket,
  };
}
