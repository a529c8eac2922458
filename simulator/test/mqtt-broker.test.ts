// The MQTT mode (SIM_TRANSPORT=mqtt) as a real process against the real broker (Debian's mosquitto,
// 2.0.11 here) configured as the stack declares it: TLS, a client certificate per device, its CN as
// the username, a deny-by-default ACL. Skipped, with the reason printed, where mosquitto is absent.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { READING_FIELDS } from "../src/schema";
import { createTestCa } from "./support/pki";
import { brokerSuite, TestBroker, type Subscriber } from "./support/mosquitto";
import { parseLine } from "./support/line-protocol";
import { baseEnv, isSummary, signalAndWaitForExit, startSimulator, type LogLine, type RunningSimulator } from "./support/run-simulator";

const SITE = "site-1";
const HEALTHCHECK = resolve(__dirname, "../dist/healthcheck.js");
const SHUTDOWN_TIMEOUT_MS = 3000;
const MARGIN_MS = 1500;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `sim-mqtt-${String(i + 1).padStart(3, "0")}`);

function mqttEnv(broker: TestBroker, identityDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    SIM_TRANSPORT: "mqtt",
    MQTT_URL: broker.url,
    MQTT_CA_FILE: broker.caFile,
    MQTT_IDENTITY_DIR: identityDir,
    SIM_SITE: SITE,
    SIM_INTERVAL_MS: "100",
    SIM_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    SIM_RETRY_MIN_MS: "200",
    ...extra,
  });
}

/** Distinct readings the subscriber saw (a redelivery is the same reading), checked against the design's topic and payload. */
function distinctReadings(subscriber: Subscriber): Set<string> {
  const keys = new Set<string>();
  for (const { topic, payload } of subscriber.messages) {
    const match = /^devices\/([^/]+)\/([^/]+)\/readings$/.exec(topic);
    if (!match) throw new Error(`unexpected topic ${topic}`);
    for (const line of payload.split("\n")) keys.add(`${match[2]} ${parseLine(line).timestamp}`);
  }
  return keys;
}

const droppedIn = (sim: RunningSimulator, reason: RegExp) =>
  sim.logs.filter((l) => l.msg === "points dropped" && reason.test(l.reason as string)).reduce((sum, l) => sum + (l.points as number), 0);

/** SIGTERM, exit 0 within the shutdown timeout, the summary last, adding up, every drop logged. */
async function stopAndSummarize(sim: RunningSimulator): Promise<LogLine> {
  const { code, elapsedMs } = await signalAndWaitForExit(sim, SHUTDOWN_TIMEOUT_MS + MARGIN_MS);
  expect({ code, withinDeadline: elapsedMs < SHUTDOWN_TIMEOUT_MS + MARGIN_MS }).toEqual({ code: 0, withinDeadline: true });
  const summary = await sim.waitForLog(isSummary, 1000, "summary");
  expect(sim.logs[sim.logs.length - 1]).toBe(summary);
  expect((summary.points_written as number) + (summary.points_dropped as number)).toBe(summary.points_generated);
  expect(droppedIn(sim, /./)).toBe(summary.points_dropped);
  return summary;
}

brokerSuite("SIM_TRANSPORT=mqtt against the real broker", () => {
  let broker: TestBroker;
  let subscriber: Subscriber;
  const sims: RunningSimulator[] = [];
  const start = (env: Record<string, string>) => {
    const sim = startSimulator(env);
    sims.push(sim);
    return sim;
  };

  beforeEach(async () => {
    // sim-mqtt-009 is left out of the ACL: it connects (its certificate is good) and may publish nowhere.
    broker = await TestBroker.start({ writers: ids(3).map((id) => ({ id, site: SITE })) });
    subscriber = await broker.subscribe();
  });
  afterEach(async () => {
    for (const sim of sims.splice(0)) if (sim.process.exitCode === null) sim.process.kill("SIGKILL");
    await subscriber?.close();
    await broker?.stop();
  });

  test("each device publishes on its own topic, QoS 1, line protocol with a nanosecond timestamp; SIGTERM drains, nothing lost", async () => {
    const sim = start(mqttEnv(broker, await broker.identityDir(ids(3))));
    await subscriber.waitFor(() => new Set(subscriber.messages.map((m) => m.topic)).size === 3 && subscriber.messages.length >= 30, 20_000, "30 readings from 3 devices");
    const summary = await stopAndSummarize(sim);
    expect(summary).toMatchObject({ points_dropped: 0 });
    expect(summary.points_written as number).toBeGreaterThanOrEqual(30);
    // everything the broker acknowledged reached the subscriber (the drain waited for the PUBACKs)
    await subscriber.waitFor(() => distinctReadings(subscriber).size >= (summary.points_written as number), 10_000, "every acknowledged reading");
    expect(distinctReadings(subscriber).size).toBe(summary.points_written);

    const now = Date.now();
    for (const { topic, payload } of subscriber.messages) {
      const id = topic.split("/")[2];
      expect(topic).toBe(`devices/${SITE}/${id}/readings`);
      expect(ids(3)).toContain(id);
      const point = parseLine(payload);
      expect(point.measurement).toBe("environment");
      expect(point.tags).toEqual({ device: id, site: SITE });
      expect(Object.keys(point.fields)).toEqual(Object.keys(READING_FIELDS));
      expect(point.integerFields).toEqual(["rssi_dbm"]);
      // nanoseconds: a whole number of milliseconds × 1e6, within the last minute
      expect(payload.endsWith("000000")).toBe(true);
      const ms = Number(payload.slice(payload.lastIndexOf(" ") + 1, -6));
      expect(now - ms).toBeGreaterThanOrEqual(0);
      expect(now - ms).toBeLessThan(60_000);
    }
    expect(sim.output()).not.toMatch(/PRIVATE KEY/);
    // MQTT 5, clean start 0 (a persistent session), the certificate's CN as the username
    for (const id of ids(3)) expect(broker.log).toMatch(new RegExp(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${id} \\(p5, c0, k\\d+, u'${id}'\\)`));
  });

  test("a publish the ACL denies is dropped with the broker's reason (PUBACK 0x87), logged; the other devices are written", async () => {
    const sim = start(mqttEnv(broker, await broker.identityDir([...ids(2), "sim-mqtt-009"])));
    await sim.waitForLog((l) => l.msg === "points dropped" && /0x87/.test(l.reason as string), 20_000, "a denied publish");
    await subscriber.waitFor(() => subscriber.messages.length >= 20, 20_000, "20 readings");
    const summary = await stopAndSummarize(sim);
    const denied = droppedIn(sim, /^rejected by the broker \(PUBACK 0x87 Not authorized\) for sim-mqtt-009 on devices\/site-1\/sim-mqtt-009\/readings$/);
    expect(denied).toBeGreaterThan(0);
    expect(denied).toBe(summary.points_dropped);
    expect(subscriber.messages.some((m) => m.topic.includes("sim-mqtt-009"))).toBe(false);
    await subscriber.waitFor(() => distinctReadings(subscriber).size >= (summary.points_written as number), 10_000, "every acknowledged reading");
    expect(distinctReadings(subscriber).size).toBe(summary.points_written);
    // the broker's own account of it
    expect(broker.log).toMatch(/Denied PUBLISH from sim-mqtt-009/);
  });

  test("broker stopped for a while and restarted: nothing it acknowledged is lost, the buffer stays within its cap, what was given up is counted", async () => {
    const cap = 60;
    const sim = start(mqttEnv(broker, await broker.identityDir(ids(3)), { SIM_INTERVAL_MS: "50", SIM_MAX_INFLIGHT_LINES: String(cap), SIM_MAX_LAG_MS: "1000" }));
    await subscriber.waitFor(() => subscriber.messages.length >= 30, 20_000, "30 readings before the outage");
    await broker.stop();
    // Connection warnings are logged at most every 5 s: by this one, 5 s of readings (300) met a buffer of 60.
    await sim.waitForLog((l) => l.msg === "device cannot connect to the broker, retrying", 15_000, "a failed reconnection");
    await broker.run();
    await sim.waitForLog((l) => l.msg === "all devices connected again", 20_000, "reconnection");
    // the buffer drains into the broker; then the fleet, more than SIM_MAX_LAG_MS behind, gives up the readings older than that
    await sim.waitForLog((l) => l.msg === "points dropped" && /fell more than 1000 ms behind/.test(l.reason as string), 10_000, "readings given up");
    const before = subscriber.messages.length;
    await subscriber.waitFor(() => subscriber.messages.length >= before + 30, 20_000, "readings after the restart");
    const summary = await stopAndSummarize(sim);
    expect(summary.inflight_peak as number).toBeLessThanOrEqual(cap);
    expect(summary.inflight_peak as number).toBeGreaterThanOrEqual(cap - 3);
    expect(summary.points_dropped as number).toBeGreaterThan(0);
    // Given up: readings more than SIM_MAX_LAG_MS late, and possibly a few of the backlog for a
    // device that reconnected after the others (its share of the buffer was full); nothing else.
    const reasons = new Set(sim.logs.filter((l) => l.msg === "points dropped").map((l) => l.reason as string));
    expect(reasons.has("fleet fell more than 1000 ms behind")).toBe(true);
    for (const reason of reasons) expect(reason).toMatch(/^(fleet fell more than 1000 ms behind|buffer full: sim-mqtt-00\d is not connected and holds its most unacknowledged readings)/);
    expect(droppedIn(sim, /fell more than 1000 ms behind/)).toBeGreaterThan(droppedIn(sim, /buffer full/));
    // every reading the broker acknowledged reached the subscriber, across the restart
    await subscriber.waitFor(() => distinctReadings(subscriber).size >= (summary.points_written as number), 15_000, "every acknowledged reading");
    expect(distinctReadings(subscriber).size).toBe(summary.points_written);
  });

  test("a device that cannot connect (its certificate is from another CA) fills its share of the buffer and drops its own readings; the others go on", async () => {
    const dir = await broker.identityDir(ids(2));
    const stranger = await (await createTestCa("Another CA")).issueClient("sim-mqtt-003");
    writeFileSync(join(dir, "sim-mqtt-003.crt"), stranger.certPem);
    writeFileSync(join(dir, "sim-mqtt-003.key"), stranger.keyPem);
    const cap = 30; // two shares of it, 20, for one device
    const sim = start(mqttEnv(broker, dir, { SIM_MAX_INFLIGHT_LINES: String(cap), SIM_STARTUP_TIMEOUT_MS: "1000" }));
    await sim.waitForLog((l) => l.msg.startsWith("devices still not connected; starting anyway"), 10_000, "the start without sim-mqtt-003");
    await sim.waitForLog((l) => l.msg === "points dropped" && /^buffer full: sim-mqtt-003 is not connected/.test(l.reason as string), 10_000, "sim-mqtt-003's buffer full");
    // the fleet did not stall on the device that cannot connect: the others publish well past the cap
    await subscriber.waitFor(() => subscriber.messages.length >= 3 * cap, 20_000, `${3 * cap} readings from the other devices`);
    const summary = await stopAndSummarize(sim);
    expect(subscriber.messages.every((m) => !m.topic.includes("sim-mqtt-003"))).toBe(true);
    expect(droppedIn(sim, /^buffer full: sim-mqtt-003/) + droppedIn(sim, /^shutdown timeout: not acknowledged/)).toBe(summary.points_dropped);
    expect(droppedIn(sim, /^shutdown timeout: not acknowledged/)).toBe(20);
    await subscriber.waitFor(() => distinctReadings(subscriber).size >= (summary.points_written as number), 10_000, "every acknowledged reading");
    expect(distinctReadings(subscriber).size).toBe(summary.points_written);
  });

  test("health: healthy while the devices are connected and their readings acknowledged, unhealthy while the broker is away, healthy again after", async () => {
    const env = mqttEnv(broker, await broker.identityDir(ids(3)), { SIM_HEALTH_MAX_AGE_MS: "1000" });
    const sim = start(env);
    const check = () => spawnSync(process.execPath, [HEALTHCHECK], { env, encoding: "utf8" });
    await waitUntil(() => check().status === 0, 10_000, "healthy");
    await broker.stop();
    await waitUntil(() => check().status === 1, 10_000, "unhealthy once the broker is gone");
    await broker.run();
    await waitUntil(() => check().status === 0, 15_000, "healthy again");
    await stopAndSummarize(sim);
  });

  test("a broker certificate that MQTT_CA_FILE does not vouch for: exit 1 at once with one fatal line naming MQTT_CA_FILE, nothing published", async () => {
    const stranger = await createTestCa("Another CA");
    const caFile = join(await broker.identityDir([]), "other-ca.crt");
    writeFileSync(caFile, stranger.certPem);
    const sim = start({ ...mqttEnv(broker, await broker.identityDir(ids(1))), MQTT_CA_FILE: caFile, SIM_STARTUP_TIMEOUT_MS: "60000" });
    expect(await withTimeout(sim.exited, 15_000, "the exit")).toBe(1);
    const fatal = sim.logs.filter((l) => l.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0].msg).toMatch(/^TLS certificate of the broker localhost:\d+ is not trusted \(\w+: .*\); check that MQTT_CA_FILE holds the CA/);
    expect(subscriber.messages).toHaveLength(0);
  });

  test("SIGTERM with readings waiting for a broker that comes back within the shutdown timeout: they are sent and acknowledged, none dropped", async () => {
    const sim = start(mqttEnv(broker, await broker.identityDir(ids(3))));
    await subscriber.waitFor(() => subscriber.messages.length >= 15, 20_000, "15 readings");
    await broker.stop();
    // by this warning (at most one every 5 s) readings have waited for the broker for 5 s
    await sim.waitForLog((l) => l.msg === "device cannot connect to the broker, retrying", 15_000, "a failed reconnection");
    const stopped = signalAndWaitForExit(sim, SHUTDOWN_TIMEOUT_MS + MARGIN_MS);
    await sim.waitForLog((l) => l.msg === "stopping", 2000, "the shutdown's start");
    await broker.run();
    expect((await stopped).code).toBe(0);
    const summary = await sim.waitForLog(isSummary, 1000, "summary");
    expect(summary.points_dropped).toBe(0);
    expect(summary.points_written).toBe(summary.points_generated);
    await subscriber.waitFor(() => distinctReadings(subscriber).size >= (summary.points_written as number), 10_000, "every acknowledged reading");
    expect(distinctReadings(subscriber).size).toBe(summary.points_written);
  });

  test("SIGTERM while the broker is down: exit 0 within the shutdown timeout, the unacknowledged readings counted as dropped", async () => {
    const sim = start(mqttEnv(broker, await broker.identityDir(ids(3))));
    await subscriber.waitFor(() => subscriber.messages.length >= 15, 20_000, "15 readings");
    await broker.stop();
    await sim.waitForLog((l) => l.msg === "device lost its connection to the broker, reconnecting", 10_000, "the lost connection");
    // connection warnings are logged at most every 5 s: this one comes after 5 s of readings buffered for the broker
    await sim.waitForLog((l) => l.msg === "device cannot connect to the broker, retrying", 15_000, "a failed reconnection");
    const summary = await stopAndSummarize(sim);
    const unacknowledged = droppedIn(sim, /^shutdown timeout: not acknowledged by the broker/);
    expect(unacknowledged).toBeGreaterThan(0);
    expect(unacknowledged).toBe(summary.points_dropped);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
