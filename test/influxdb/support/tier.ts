// The InfluxDB tier: the real InfluxDB server and CLI, built from source by
// test/influxdb/build-upstream.sh into .cache/upstream/bin. Whether the tier can run is decided
// here, once per test file, before any suite is declared:
//  - run.sh (npm run test:influxdb) calls the build script first; its exit code 3 (a prerequisite
//    is missing) arrives as INFLUXDB_TIER_SKIP_REASON;
//  - under the root `npm test`, which does not build, the binaries must already be there and
//    report the versions the build script pins (read from the script, not retyped).
// When the tier cannot run, every suite is skipped and one line says why: a skip is never a pass;
// where IOT_REQUIRE_TIERS names the tier (CI), it fails instead.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..", "..");
export const BUILD_SCRIPT = join(ROOT, "test", "influxdb", "build-upstream.sh");
export const BIN_DIR = join(ROOT, ".cache", "upstream", "bin");
export const INFLUXD = join(BIN_DIR, "influxd");
export const INFLUX = join(BIN_DIR, "influx");
export const SIMULATOR_MAIN = join(ROOT, "simulator", "dist", "main.js");

export interface PinnedVersions {
  influxd: string;
  cli: string;
}

/** The versions build-upstream.sh builds (its INFLUXD_VERSION and its default INFLUX_CLI_VERSION). */
export function pinnedVersions(): PinnedVersions {
  const script = readFileSync(BUILD_SCRIPT, "utf8");
  const influxd = /^readonly INFLUXD_VERSION=(\S+)$/m.exec(script)?.[1];
  const cli = /^INFLUX_CLI_VERSION=\$\{INFLUX_CLI_VERSION:-(\S+)\}$/m.exec(script)?.[1];
  if (!influxd || !cli) throw new Error(`cannot read the pinned versions from ${BUILD_SCRIPT}`);
  return { influxd, cli: process.env.INFLUX_CLI_VERSION || cli };
}

export interface TierStatus {
  skip?: string;
  /** first line of `influxd version` and `influx version` */
  influxdVersion?: string;
  influxVersion?: string;
}

function versionLine(bin: string): { line?: string; error?: string } {
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return { error: `${bin} is missing or not executable` };
  }
  const run = spawnSync(bin, ["version"], { encoding: "utf8", timeout: 10_000 });
  if (run.status !== 0) return { error: `${bin} version failed: ${(run.stderr || run.error?.message || "").trim()}` };
  return { line: run.stdout.split("\n")[0].trim() };
}

let status: TierStatus | undefined;

export function tierStatus(): TierStatus {
  if (status) return status;
  if (process.env.INFLUXDB_TIER_SKIP_REASON) return (status = { skip: process.env.INFLUXDB_TIER_SKIP_REASON });
  const pinned = pinnedVersions();
  const build = "run `npm run test:influxdb` (or bash test/influxdb/build-upstream.sh) to build them";
  const server = versionLine(INFLUXD);
  if (server.error) return (status = { skip: `no InfluxDB binaries: ${server.error}; ${build}` });
  const cli = versionLine(INFLUX);
  if (cli.error) return (status = { skip: `no influx CLI: ${cli.error}; ${build}` });
  // "InfluxDB v2.9.1 (git: …) build_date: …" and "Influx CLI 2.7.1-… (git: …) build_date: …"
  const serverVersion = server.line!.split(/\s+/)[1]?.replace(/^v/, "");
  const cliVersion = cli.line!.split(/\s+/)[2]?.replace(/^v/, "");
  if (serverVersion !== pinned.influxd.replace(/^v/, "")) {
    return (status = { skip: `${INFLUXD} reports "${server.line}", not ${pinned.influxd}; ${build}` });
  }
  if (cliVersion !== pinned.cli.replace(/^v/, "")) {
    return (status = { skip: `${INFLUX} reports "${cli.line}", not ${pinned.cli}; ${build}` });
  }
  return (status = { influxdVersion: server.line, influxVersion: cli.line });
}

/**
 * Prints the skip line once per jest run: every test file of the tier asks, in one process or in
 * several workers, all children of the same jest process. Written to stderr directly: jest drops
 * the console output of a test file whose tests are all skipped when files run in workers.
 */
function warnOnce(reason: string): void {
  // A jest worker is a forked child (it has an IPC channel) of the jest process; in band, the test
  // files run in the jest process itself.
  const jestPid = typeof process.send === "function" ? process.ppid : process.pid;
  const marker = join(tmpdir(), `influxdb-tier-skip-${jestPid}`);
  try {
    writeFileSync(marker, reason, { flag: "wx" });
  } catch {
    if (existsSync(marker)) return;
  }
  process.stderr.write(`influxdb tier SKIPPED (not passed): ${reason}\n`);
}

/** Whether this run must not skip the tier (IOT_REQUIRE_TIERS=…,influxdb; .ci/run sets it). */
export function tierRequired(): boolean {
  return (process.env.IOT_REQUIRE_TIERS ?? "").split(",").map((t) => t.trim()).includes("influxdb");
}

/**
 * A suite of the tier: declared normally when the binaries are there; when not, skipped with the
 * reason printed, or, where the tier is required, one failing test that says why.
 */
export function influxTier(name: string, body: () => void): void {
  const { skip } = tierStatus();
  if (skip && tierRequired()) {
    describe(name, () => {
      test("the influxdb tier is required here (IOT_REQUIRE_TIERS) and cannot run", () => {
        throw new Error(`influxdb tier required but unavailable: ${skip}`);
      });
    });
  } else if (skip) {
    warnOnce(skip);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}
