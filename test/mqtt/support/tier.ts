// The MQTT tier: Debian's mosquitto, Telegraf built from its Go module (test/mqtt/build-upstream.sh)
// and the real influxd (test/influxdb/build-upstream.sh), as local processes. Whether the tier can
// run is decided here, once per test file, before any suite is declared:
//  - run.sh (npm run test:mqtt) calls both build scripts first; an exit code 3 (a prerequisite is
//    missing) arrives as MQTT_TIER_SKIP_REASON;
//  - under the root `npm test`, which does not build, the binaries must already be there and report
//    the versions the build scripts pin (read from the scripts, not retyped).
// When the tier cannot run, every suite is skipped and one line says why: a skip is never a pass;
// where IOT_REQUIRE_TIERS names the tier (CI), it fails instead.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { INFLUXD, pinnedVersions as pinnedInfluxVersions } from "../../influxdb/support/tier";

export const ROOT = join(__dirname, "..", "..", "..");
export const BUILD_SCRIPT = join(ROOT, "test", "mqtt", "build-upstream.sh");
export const TELEGRAF = join(ROOT, ".cache", "upstream", "bin", "telegraf");
export { INFLUXD };

/** The broker binary: Debian installs it in /usr/sbin, which a non-root PATH may lack. */
export function mosquittoPath(): string | undefined {
  const onPath = spawnSync("sh", ["-c", "command -v mosquitto"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return onPath;
  return existsSync("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : undefined;
}

/** The `mqtt` package the simulator depends on, loaded from the simulator's own node_modules. */
export function loadMqtt(): typeof import("../../../simulator/node_modules/mqtt") {
  return createRequire(join(ROOT, "simulator", "package.json"))("mqtt");
}

export function pinnedTelegrafVersion(): string {
  const version = /^readonly TELEGRAF_VERSION=(\S+)$/m.exec(readFileSync(BUILD_SCRIPT, "utf8"))?.[1];
  if (!version) throw new Error(`cannot read TELEGRAF_VERSION from ${BUILD_SCRIPT}`);
  return version.replace(/^v/, "");
}

function firstLine(bin: string, args: string[]): { line?: string; error?: string } {
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return { error: `${bin} is missing or not executable` };
  }
  const run = spawnSync(bin, args, { encoding: "utf8", timeout: 10_000 });
  const out = `${run.stdout ?? ""}${run.stderr ?? ""}`.trim();
  if (!out) return { error: `${bin} ${args.join(" ")} printed nothing (${run.error?.message ?? `exit ${run.status}`})` };
  return { line: out.split("\n")[0].trim() };
}

export interface TierStatus {
  skip?: string;
  mosquitto?: string;
  telegraf?: string;
  influxd?: string;
}

let status: TierStatus | undefined;

export function tierStatus(): TierStatus {
  if (status) return status;
  if (process.env.MQTT_TIER_SKIP_REASON) return (status = { skip: process.env.MQTT_TIER_SKIP_REASON });
  const build = "run `npm run test:mqtt` (it builds Telegraf and InfluxDB and installs mosquitto where it can)";
  const broker = mosquittoPath();
  if (!broker) return (status = { skip: `no mosquitto broker (Debian's mosquitto package); ${build}` });
  // "mosquitto version 2.0.11"
  const brokerLine = firstLine(broker, ["-h"]);
  if (!/^mosquitto version 2\.0\./.test(brokerLine.line ?? "")) return (status = { skip: `${broker} is not Mosquitto 2.0.x: ${brokerLine.line ?? brokerLine.error}` });
  const telegraf = firstLine(TELEGRAF, ["version"]);
  if (telegraf.error) return (status = { skip: `no Telegraf binary: ${telegraf.error}; ${build}` });
  // "Telegraf 1.37.3"
  if (telegraf.line!.split(/\s+/)[1] !== pinnedTelegrafVersion()) return (status = { skip: `${TELEGRAF} reports "${telegraf.line}", not ${pinnedTelegrafVersion()}; ${build}` });
  const influxd = firstLine(INFLUXD, ["version"]);
  if (influxd.error) return (status = { skip: `no InfluxDB binary: ${influxd.error}; ${build}` });
  if (influxd.line!.split(/\s+/)[1]?.replace(/^v/, "") !== pinnedInfluxVersions().influxd.replace(/^v/, "")) {
    return (status = { skip: `${INFLUXD} reports "${influxd.line}", not ${pinnedInfluxVersions().influxd}; ${build}` });
  }
  try {
    loadMqtt();
  } catch (error) {
    return (status = { skip: `the simulator's mqtt package is not installed (${(error as Error).message.split("\n")[0]}); run npm ci` });
  }
  return (status = { mosquitto: brokerLine.line, telegraf: telegraf.line, influxd: influxd.line });
}

/** Prints the skip line once per jest run (see test/influxdb/support/tier.ts for why on stderr). */
function warnOnce(reason: string): void {
  const jestPid = typeof process.send === "function" ? process.ppid : process.pid;
  const marker = join(tmpdir(), `mqtt-tier-skip-${jestPid}`);
  try {
    writeFileSync(marker, reason, { flag: "wx" });
  } catch {
    if (existsSync(marker)) return;
  }
  process.stderr.write(`mqtt tier SKIPPED (not passed): ${reason}\n`);
}

/** Whether this run must not skip the tier (IOT_REQUIRE_TIERS=…,mqtt; .ci/run sets it). */
export function tierRequired(): boolean {
  return (process.env.IOT_REQUIRE_TIERS ?? "").split(",").map((t) => t.trim()).includes("mqtt");
}

/**
 * A suite of the tier: declared normally when the parts are there; when not, skipped with the
 * reason printed, or, where the tier is required, one failing test that says why.
 */
export function mqttTier(name: string, body: () => void): void {
  const { skip } = tierStatus();
  if (skip && tierRequired()) {
    describe(name, () => {
      test("the mqtt tier is required here (IOT_REQUIRE_TIERS) and cannot run", () => {
        throw new Error(`mqtt tier required but unavailable: ${skip}`);
      });
    });
  } else if (skip) {
    warnOnce(skip);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}
