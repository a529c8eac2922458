// MQTT tier: at-least-once from the device to InfluxDB. Several devices publish at QoS 1 while the
// bridge (Telegraf) is restarted, while InfluxDB is down, and while the bridge is away and the
// broker is replaced (as a revocation replaces it); every message the broker acknowledged
// must end up in InfluxDB exactly as published: the same points, the same values, per device and
// field, nothing missing and nothing extra (a redelivered message rewrites the same point).
import { DEFAULT_MEASUREMENT, READING_FIELDS } from "../../simulator/src/schema";
import { deviceTopic, type DeviceIdentity } from "../../components/broker-config";
import { waitFor } from "./support/process";
import { connectDevice, nowNs, publishQos1, stackTest, startStack, storedPoints, type Stack } from "./support/stack";
import { mqttTier } from "./support/tier";
import type { MqttClient } from "../../simulator/node_modules/mqtt";

const SITE = "plant";
const DEVICES: DeviceIdentity[] = [1, 2, 3].map((n) => ({ id: `loss-${n}`, site: SITE }));
/** messages per device in each of the five phases */
const PHASE = 50;
const PER_DEVICE = 5 * PHASE;

interface Sent {
  ns: string;
  values: Record<string, string>;
}

/** One reading with values that differ per device and message, so that a mixed-up point shows. */
function readingFor(deviceIndex: number, i: number, ns: string): { line: string; values: Record<string, string> } {
  const values: Record<string, string> = {};
  const fields: string[] = [];
  for (const [name, spec] of Object.entries(READING_FIELDS)) {
    if (spec.type === "integer") {
      values[name] = String(-(deviceIndex * 1000 + i));
      fields.push(`${name}=${values[name]}i`);
    } else {
      values[name] = `${deviceIndex * 1000 + i}.25`;
      fields.push(`${name}=${values[name]}`);
    }
  }
  return { line: `${DEFAULT_MEASUREMENT} ${fields.join(",")} ${ns}`, values };
}

mqttTier("MQTT tier: no loss through a bridge restart, an InfluxDB outage and a broker replacement", () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    stack = await startStack({ devices: DEVICES });
    for (const device of DEVICES) {
      const { client, error } = await connectDevice(stack, device.id, stack.identities.get(device.id)!);
      if (!client) throw new Error(`${device.id} could not connect: ${error}`);
      clients.push(client);
    }
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await stack?.stop();
  }, 60_000);

  stackTest(`${DEVICES.length} devices × ${PER_DEVICE} QoS 1 messages, meanwhile Telegraf restarted, InfluxDB stopped and started, and the broker replaced while Telegraf was away: every acknowledged message is stored exactly`, () => stack, async () => {
    const acked = DEVICES.map(() => new Map<string, Sent>());
    const refused: string[] = [];
    /** each device publishes messages [from, to) one after the other, waiting for each PUBACK */
    const publishRange = (from: number, to: number) =>
      Promise.all(
        DEVICES.map(async (device, d) => {
          for (let i = from; i < to; i++) {
            const ns = nowNs();
            const { line, values } = readingFor(d + 1, i, ns);
            const code = await publishQos1(clients[d], deviceTopic(device), line);
            if (code === 0) acked[d].set(ns, { ns, values });
            else refused.push(`${device.id} #${i}: reason code ${code}`);
          }
        }),
      );

    // 1: normal operation
    await publishRange(0, PHASE);
    // 2: the bridge is stopped (SIGTERM, as `docker stop`) right after taking messages it has not
    // yet written, devices go on publishing while it is away, and it is started again: both what it
    // had taken and what arrived meanwhile are still the broker's to deliver
    await publishRange(PHASE, PHASE + PHASE / 2);
    await s().bridge.stop();
    await publishRange(PHASE + PHASE / 2, 2 * PHASE);
    await s().bridge.start();
    // 3: InfluxDB is down while devices go on publishing: the bridge holds what it cannot write
    const telegrafMark = s().bridge.process().mark();
    await s().influx.stop();
    await publishRange(2 * PHASE, 3 * PHASE);
    // the outage was real: the bridge tried to write readings and failed (it retries every flush interval)
    await s().bridge.process().waitForLog(/E! \[outputs\.influxdb_v2::readings\] .*connection refused/, 15_000, telegrafMark);
    // 4: InfluxDB comes back while devices go on publishing
    await Promise.all([s().influx.start(), publishRange(3 * PHASE, 4 * PHASE)]);
    // 5: the bridge is away while devices publish, and the broker is replaced meanwhile (SIGTERM, as
    // when `up` replaces its container after a revocation): the messages queued for the bridge's
    // session survive in the broker's persistence and reach InfluxDB once the bridge is back
    await s().bridge.stop();
    await publishRange(4 * PHASE, 5 * PHASE);
    await s().broker.replace({ devices: DEVICES, revoked: [] });
    await s().bridge.start();

    expect(refused).toEqual([]);
    expect(acked.map((m) => m.size)).toEqual(DEVICES.map(() => PER_DEVICE));

    const fields = Object.keys(READING_FIELDS).sort();
    const expectedCount = DEVICES.length * PER_DEVICE * fields.length;
    const points = await waitFor(
      `all ${expectedCount} field values in InfluxDB`,
      async () => {
        const stored = await storedPoints(s(), DEFAULT_MEASUREMENT);
        return stored.length >= expectedCount ? stored : undefined;
      },
      60_000,
      1_000,
    ).catch(async (error: Error) => {
      const stored = await storedPoints(s(), DEFAULT_MEASUREMENT).catch(() => []);
      throw new Error(`${error.message}; stored ${stored.length}`);
    });

    // count by device and field
    const counts: Record<string, Record<string, number>> = {};
    for (const p of points) {
      counts[p.tags.device] ??= {};
      counts[p.tags.device][p.field] = (counts[p.tags.device][p.field] ?? 0) + 1;
    }
    expect(counts).toEqual(Object.fromEntries(DEVICES.map((d) => [d.id, Object.fromEntries(fields.map((f) => [f, PER_DEVICE]))])));
    // and exactly what was published: each acknowledged message's timestamp, site and values
    const mismatches: string[] = [];
    for (const p of points) {
      const d = DEVICES.findIndex((device) => device.id === p.tags.device);
      const sent = acked[d]?.get(p.ns);
      if (!sent) mismatches.push(`${p.tags.device} ${p.ns}: stored, never acknowledged`);
      else if (p.tags.site !== SITE || sent.values[p.field] !== p.value) mismatches.push(`${p.tags.device} ${p.ns} ${p.field}: stored ${p.value} at ${p.tags.site}, sent ${sent.values[p.field]} at ${SITE}`);
    }
    expect(mismatches).toEqual([]);
  }, 180_000);
});
