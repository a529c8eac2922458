// The InfluxDB init script, run for real with bash against a stand-in `influx` CLI that records
// its arguments and answers like `influx auth create --json`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/harness";

const SCRIPT = join(ROOT, "components", "assets", "influxdb-scoped-tokens.sh");

function fakeInflux(dir: string, behaviour: "ok" | "no-token" | "fail"): void {
  const body = {
    ok: `echo "$@" >> "${dir}/calls"
case "$*" in
  *--write-bucket*) printf '{\\n  "id": "1",\\n  "token": "WRITE-TOKEN_abc-123==",\\n  "status": "active"\\n}\\n' ;;
  *--read-bucket*) printf '{\\n  "id": "2",\\n  "token": "READ-TOKEN_def-456==",\\n  "status": "active"\\n}\\n' ;;
esac`,
    "no-token": `echo '{"error": "something"}'`,
    fail: `echo "Error: unauthorized" >&2; exit 1`,
  }[behaviour];
  writeFileSync(join(dir, "influx"), `#!/bin/bash\n${body}\n`);
  chmodSync(join(dir, "influx"), 0o755);
}

function runScript(behaviour: "ok" | "no-token" | "fail") {
  const dir = mkdtempSync(join(tmpdir(), "initdb-"));
  fakeInflux(dir, behaviour);
  const handoff = join(dir, "handoff");
  const env = {
    PATH: `${dir}:${process.env.PATH}`,
    HANDOFF_DIR: handoff,
    DOCKER_INFLUXDB_INIT_ORG_ID: "org123",
    DOCKER_INFLUXDB_INIT_BUCKET_ID: "bucket456",
    DOCKER_INFLUXDB_INIT_BUCKET: "sensors",
  };
  try {
    const stdout = execFileSync("bash", [SCRIPT], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { dir, handoff, stdout, status: 0, stderr: "" };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { dir, handoff, stdout: e.stdout, status: e.status, stderr: e.stderr };
  }
}

test("creates a write-only token for the simulator and the MQTT bridge and a read-only one for Grafana, each in its own directory", () => {
  const { dir, handoff, stdout, status } = runScript("ok");
  expect(status).toBe(0);
  const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
  expect(calls).toEqual([
    "auth create --org-id org123 --description simulator: write-only sensors --write-bucket bucket456 --json",
    "auth create --org-id org123 --description grafana: read-only sensors --read-bucket bucket456 --json",
    "auth create --org-id org123 --description bridge: write-only sensors --write-bucket bucket456 --json",
  ]);
  expect(readFileSync(join(handoff, "simulator", "token"), "utf8")).toBe("WRITE-TOKEN_abc-123==");
  expect(readFileSync(join(handoff, "grafana", "token"), "utf8")).toBe("READ-TOKEN_def-456==");
  expect(readFileSync(join(handoff, "bridge", "token"), "utf8")).toBe("WRITE-TOKEN_abc-123==");
  expect(statSync(join(handoff, "bridge", "token")).mode & 0o777).toBe(0o444);
  expect(statSync(join(handoff, "simulator", "token")).mode & 0o777).toBe(0o444);
  expect(statSync(join(handoff, "grafana")).mode & 0o777).toBe(0o755);
  expect(existsSync(join(handoff, "simulator", "token.new"))).toBe(false);
  // the tokens never reach the log
  expect(stdout).not.toMatch(/TOKEN_/);
  expect(stdout).toMatch(/created write-only tokens \(simulator, bridge\) and a read-only token \(grafana\)/);
});

test("fails (and so fails the first start) when the CLI returns no token", () => {
  const { status, stderr, handoff } = runScript("no-token");
  expect(status).not.toBe(0);
  expect(stderr).toMatch(/returned no token for: simulator: write-only sensors/);
  expect(existsSync(join(handoff, "simulator", "token"))).toBe(false);
});

test("fails when the CLI fails", () => {
  const { status, stderr } = runScript("fail");
  expect(status).not.toBe(0);
  expect(stderr).toMatch(/unauthorized/);
});

test("refuses to run outside the image's setup (ids missing)", () => {
  let failed = false;
  try {
    execFileSync("bash", [SCRIPT], { env: { PATH: process.env.PATH ?? "", HANDOFF_DIR: tmpdir() }, stdio: "pipe" });
  } catch (error) {
    failed = true;
    expect(String((error as { stderr: Buffer }).stderr)).toMatch(/DOCKER_INFLUXDB_INIT_ORG_ID: set by the image entrypoint/);
  }
  expect(failed).toBe(true);
});
