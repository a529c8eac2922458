// Bad configuration: the process exits 2 with a message naming the variable and what is allowed,
// before it touches the network.
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { loadConfig, ConfigError, SETTING_NAMES, USAGE, settingsHelp } from "../src/config";
import { FakeInflux } from "./support/fake-influx";
import { BUCKET, ORG, TOKEN, writeTempFile } from "./support/fixtures";
import { SIMULATOR_MAIN, baseEnv, startSimulator } from "./support/run-simulator";

const server = new FakeInflux({ token: TOKEN, org: ORG, bucket: BUCKET });
beforeAll(() => server.start());
afterAll(() => server.stop());

const good = () => ({ INFLUX_URL: server.url, INFLUX_ORG: ORG, INFLUX_BUCKET: BUCKET, INFLUX_TOKEN: TOKEN });
const without = (key: string) => {
  const env: Record<string, string> = good();
  delete env[key];
  return env;
};

const unreadable = () => {
  const path = writeTempFile("token", TOKEN);
  chmodSync(path, 0o000);
  return path;
};
const runningAsRoot = process.getuid?.() === 0;

const cases: Array<[string, () => Record<string, string>, RegExp]> = [
  ["missing URL", () => without("INFLUX_URL"), /INFLUX_URL is required/],
  ["URL with another scheme", () => ({ ...good(), INFLUX_URL: "ftp://influxdb:8086" }), /INFLUX_URL must be an http:\/\/ or https:\/\/ URL/],
  ["missing org", () => without("INFLUX_ORG"), /INFLUX_ORG is required/],
  ["missing bucket", () => without("INFLUX_BUCKET"), /INFLUX_BUCKET is required/],
  ["both token variables", () => ({ ...good(), INFLUX_TOKEN_FILE: writeTempFile("token", TOKEN) }), /exactly one of INFLUX_TOKEN or INFLUX_TOKEN_FILE/],
  ["no token variable", () => without("INFLUX_TOKEN"), /exactly one of INFLUX_TOKEN or INFLUX_TOKEN_FILE/],
  ["token file that does not exist", () => ({ ...without("INFLUX_TOKEN"), INFLUX_TOKEN_FILE: "/nonexistent/token" }), /INFLUX_TOKEN_FILE cannot be read \(\/nonexistent\/token\): ENOENT/],
  ["empty token file", () => ({ ...without("INFLUX_TOKEN"), INFLUX_TOKEN_FILE: writeTempFile("token", "\n") }), /INFLUX_TOKEN_FILE points to an empty file/],
  ["unreadable CA file", () => ({ ...good(), INFLUX_CA_FILE: "/nonexistent/ca.pem" }), /INFLUX_CA_FILE cannot be read/],
  ["CA file that is not PEM", () => ({ ...good(), INFLUX_CA_FILE: writeTempFile("ca.pem", "hello") }), /INFLUX_CA_FILE must be a PEM file/],
  ["non-numeric devices", () => ({ ...good(), SIM_DEVICES: "many" }), /SIM_DEVICES must be an integer from 1 to 10000000/],
  ["negative devices", () => ({ ...good(), SIM_DEVICES: "-3" }), /SIM_DEVICES must be an integer from 1 to 10000000/],
  ["zero interval", () => ({ ...good(), SIM_INTERVAL_MS: "0" }), /SIM_INTERVAL_MS must be an integer from 10 to 3600000/],
  ["fractional interval", () => ({ ...good(), SIM_INTERVAL_MS: "2.5" }), /SIM_INTERVAL_MS must be an integer/],
  ["bad backfill duration", () => ({ ...good(), SIM_BACKFILL: "yesterday" }), /SIM_BACKFILL must be a duration such as 30s, 15m, 24h or 7d/],
  ["exit after backfill without backfill", () => ({ ...good(), SIM_EXIT_AFTER_BACKFILL: "true" }), /SIM_EXIT_AFTER_BACKFILL=true needs SIM_BACKFILL/],
  ["non-boolean exit flag", () => ({ ...good(), SIM_EXIT_AFTER_BACKFILL: "yes" }), /SIM_EXIT_AFTER_BACKFILL must be true or false/],
  ["unknown log level", () => ({ ...good(), LOG_LEVEL: "loud" }), /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
  ["site with a space", () => ({ ...good(), SIM_SITE: "plant 7" }), /SIM_SITE must be 1-64 characters/],
  ["fault rate above 1", () => ({ ...good(), SIM_FAULT_SPIKE_RATE: "1.5" }), /SIM_FAULT_SPIKE_RATE must be a probability per reading from 0 to 1/],
  ["seed out of range", () => ({ ...good(), SIM_SEED: "99999999999" }), /SIM_SEED must be an integer from 0 to 4294967295/],
  ["shutdown timeout past Docker's", () => ({ ...good(), SIM_SHUTDOWN_TIMEOUT_MS: "15000" }), /SIM_SHUTDOWN_TIMEOUT_MS must be below Docker's 10 s stop timeout/],
  ["retry max below min", () => ({ ...good(), SIM_RETRY_MIN_MS: "5000", SIM_RETRY_MAX_MS: "100" }), /SIM_RETRY_MAX_MS must be at least SIM_RETRY_MIN_MS/],
  ["non-boolean long-shutdown opt-in", () => ({ ...good(), SIM_SHUTDOWN_TIMEOUT_MS: "15000", SIM_ALLOW_LONG_SHUTDOWN: "yes" }), /SIM_ALLOW_LONG_SHUTDOWN must be true or false/],
];
if (!runningAsRoot) {
  cases.push(["unreadable token file", () => ({ ...without("INFLUX_TOKEN"), INFLUX_TOKEN_FILE: unreadable() }), /INFLUX_TOKEN_FILE cannot be read .*EACCES/]);
}

describe("invalid configuration exits 2", () => {
  test.each(cases)("%s", async (_name, makeEnv, message) => {
    const sim = startSimulator({ ...baseEnv({}), ...makeEnv() });
    expect(await sim.exited).toBe(2);
    const fatal = sim.logs.find((line) => line.level === 60);
    expect(fatal?.msg).toMatch(message);
    expect(fatal?.msg).toMatch(/^invalid configuration: /);
    expect(sim.output()).not.toContain(TOKEN);
  });

  test("a wait for a log line ends with 'exited' when the simulator dies, before or while it waits (not at its timeout)", async () => {
    const sim = startSimulator(baseEnv({ INFLUX_URL: "not a url" }));
    const neverLogged = (line: { msg: string }) => line.msg === "no such line";
    // The timeout is far longer than the test's own: only the exit can end these waits in time,
    // and the message says which ended them.
    const whileRunning = sim.waitForLog(neverLogged, 10 * 60_000, "a line never logged");
    await expect(whileRunning).rejects.toThrow(/^simulator exited before a line never logged/);
    await sim.exited;
    await expect(sim.waitForLog(neverLogged, 10 * 60_000, "a line never logged")).rejects.toThrow(/^simulator exited before/);
  });

  test("no request reached the server from any invalid configuration", () => {
    expect(server.httpRequests).toBe(0);
  });
});

describe("loadConfig", () => {
  test("collects every problem at once", () => {
    try {
      loadConfig({ SIM_DEVICES: "x", SIM_INTERVAL_MS: "-1" });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      expect(problems).toMatch(/INFLUX_URL is required/);
      expect(problems).toMatch(/SIM_DEVICES/);
      expect(problems).toMatch(/SIM_INTERVAL_MS/);
      expect(problems).toMatch(/INFLUX_TOKEN/);
    }
  });

  test("defaults: 5 devices every 5 s, and a retry buffer for at least five minutes of traffic", () => {
    const config = loadConfig({ INFLUX_URL: "https://influxdb:8086", INFLUX_ORG: "o", INFLUX_BUCKET: "b", INFLUX_TOKEN: "t" });
    expect(config.devices).toBe(5);
    expect(config.intervalMs).toBe(5000);
    // the write defaults the ingest benchmark chose (config.ts, the comment at SIM_BATCH_SIZE)
    expect({ batchSize: config.batchSize, flushIntervalMs: config.flushIntervalMs, gzip: config.gzip }).toEqual({ batchSize: 5000, flushIntervalMs: 1000, gzip: false });
    const config100k = loadConfig({ INFLUX_URL: "https://influxdb:8086", INFLUX_ORG: "o", INFLUX_BUCKET: "b", INFLUX_TOKEN: "t", SIM_DEVICES: "100000", SIM_INTERVAL_MS: "1000" });
    expect(config100k.bufferLines).toBeGreaterThanOrEqual(100_000 * 300);
    expect(config100k.maxInflightLines).toBeGreaterThan(config100k.bufferLines);
  });
});

describe("command line: settings come from the environment, --help lists them", () => {
  // the compiled simulator, as `npm run simulate -- ARGS` runs it; no server: neither case may reach one
  const run = (args: string[]) => spawnSync(process.execPath, [SIMULATOR_MAIN, ...args], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8", timeout: 10_000 });

  test.each([["--help"], ["-h"]])("%s prints every setting, one line each, and exits 0", (flag) => {
    const result = run([flag]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(settingsHelp());
  });

  test("the help has a line for each variable the simulator reads, with what it accepts and its default", () => {
    const help = settingsHelp();
    for (const name of SETTING_NAMES) expect(help).toMatch(new RegExp(`^ {2}${name} +\\S`, "m"));
    expect(help.split("\n").filter((line) => line.startsWith("  "))).toHaveLength(SETTING_NAMES.length);
    expect(help).toMatch(/^ {2}SIM_DEVICES +an integer from 1 to 10000000; default 5; with SIM_TRANSPORT=mqtt, the number of identities in MQTT_IDENTITY_DIR$/m);
    expect(help).toMatch(/^ {2}SIM_TRANSPORT +one of https, mqtt; default https$/m);
    expect(help).toMatch(/^ {2}LOG_LEVEL +one of fatal, error, warn, info, debug, trace, silent; default info$/m);
    expect(help).toMatch(/^ {2}SIM_FAULT_SPIKE_RATE +a probability per reading from 0 to 1; default 0\.001$/m);
    expect(help).toMatch(/^ {2}SIM_BUFFER_LINES +an integer from 1 to 100000000; default the larger of 2 × SIM_BATCH_SIZE and 300 s of readings$/m);
    expect(help).toMatch(/^ {2}INFLUX_URL +an http:\/\/ or https:\/\/ URL such as https:\/\/influxdb:8086; required with SIM_TRANSPORT=https$/m);
    expect(help).toMatch(/^ {2}SIM_ALLOW_LONG_SHUTDOWN +true or false: .*; default false$/m);
  });

  test("the defaults the help states for unset variables are the ones loadConfig applies", () => {
    const config = loadConfig({ ...good(), SIM_DEVICES: "10", SIM_INTERVAL_MS: "60000", SIM_BATCH_SIZE: "700" });
    expect(config.bufferLines).toBe(2 * 700); // 300 s of 10 devices every minute is 50 lines
    expect(config.maxInflightLines).toBe(config.bufferLines + 4 * 700);
    expect(config.maxLagMs).toBe(300_000);
    expect(config.healthMaxAgeMs).toBe(3 * 60_000);
    expect(loadConfig(good()).healthMaxAgeMs).toBe(30_000);
    expect(loadConfig(good()).backfillMs).toBe(0);
    expect(loadConfig(good()).caPem).toBeUndefined();
  });

  test("an unknown argument: one usage line on stderr, exit 2, nothing else done", () => {
    const result = run(["--devices=5"]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`unknown argument "--devices=5"; ${USAGE}\n`);
  });

  test("SIM_ALLOW_LONG_SHUTDOWN=true lets the shutdown timeout past Docker's 10 s", () => {
    expect(loadConfig({ ...good(), SIM_SHUTDOWN_TIMEOUT_MS: "15000", SIM_ALLOW_LONG_SHUTDOWN: "true" }).shutdownTimeoutMs).toBe(15_000);
  });
});
