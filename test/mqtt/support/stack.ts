// One test file's MQTT path: the tier's CA, the real InfluxDB, the real broker with the program's
// broker files, the real Telegraf with the program's bridge file, and devices as MQTT 5 clients (the
// `mqtt` package the simulator uses) each with its own certificate.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceIdentity } from "../../../components/broker-config";
import { startBroker, type Broker, type BrokerState } from "./broker";
import { prepareBridge, type Bridge } from "./bridge";
import { BUCKET, startInflux, type Influx } from "./influxdb";
import { createCa, type Ca, type Identity } from "./pki";
import { loadMqtt } from "./tier";
import type { MqttClient } from "../../../simulator/node_modules/mqtt";

export interface Stack {
  dir: string;
  ca: Ca;
  caFile: string;
  influx: Influx;
  broker: Broker;
  bridge: Bridge;
  identities: Map<string, Identity>;
  stop(): Promise<void>;
  /** the last lines of each part's log, for a failure message */
  logs(): string;
}

export interface StackOptions {
  devices: DeviceIdentity[];
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-tier-"));
  const ca = await createCa("mqtt tier test CA");
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  const identities = new Map<string, Identity>();
  for (const device of o.devices) identities.set(device.id, await ca.client(device.id));
  const stopped: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const stop of stopped.reverse()) await stop().catch(() => undefined);
    if (process.env.MQTT_TIER_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  };
  try {
    const influx = await startInflux(join(dir, "influxdb"), ca, caFile);
    stopped.push(() => influx.stop());
    const state: BrokerState = { devices: o.devices, revoked: [] };
    const broker = await startBroker(join(dir, "broker"), ca, state, { maxQueuedMessages: o.maxQueuedMessages, maxQueuedBytes: o.maxQueuedBytes });
    stopped.push(() => broker.stop());
    const bridge = await prepareBridge(join(dir, "bridge"), ca, caFile, broker.port, influx);
    stopped.push(() => bridge.stop());
    await bridge.start();
    const redact = (text: string) => text.split(influx.bridgeToken).join("<redacted>").split(influx.operatorToken).join("<redacted>");
    return {
      dir,
      ca,
      caFile,
      influx,
      broker,
      bridge,
      identities,
      stop: cleanup,
      logs: () =>
        redact(
          [
            `--- mosquitto ---\n${broker.process().tail(25)}`,
            `--- telegraf ---\n${bridge.process().tail(25)}`,
            `--- influxd ---\n${influx.logTail()}`,
          ].join("\n"),
        ),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** A test whose failure message ends with the tail of every part's log. */
export function stackTest(name: string, stack: () => Stack | undefined, fn: () => Promise<void>, timeoutMs = 60_000): void {
  test(
    name,
    async () => {
      try {
        await fn();
      } catch (error) {
        const s = stack();
        if (s && error instanceof Error) error.message = `${error.message}\n${s.logs()}`;
        throw error;
      }
    },
    timeoutMs,
  );
}

export interface ClientCredentials {
  certPem?: string;
  keyPem?: string;
  /** the CA the client verifies the broker with (default: the tier's) */
  caPem?: string;
}

export interface Connection {
  client?: MqttClient;
  /** why the connection was refused (the client's error), when it was */
  error?: string;
}

/**
 * Connects an MQTT 5 client as a device does: TLS verified against the CA, its certificate, a
 * persistent session (clean start false) under its own id. Never retries: a refusal is the result.
 */
export function connectDevice(stack: Stack, clientId: string, creds: ClientCredentials, timeoutMs = 10_000, protocolVersion: 4 | 5 = 5): Promise<Connection> {
  const mqtt = loadMqtt();
  return new Promise((resolve) => {
    const client = mqtt.connect({
      protocol: "mqtts",
      host: "127.0.0.1",
      port: stack.broker.port,
      servername: "localhost",
      ca: creds.caPem ?? stack.ca.certPem,
      cert: creds.certPem,
      key: creds.keyPem,
      rejectUnauthorized: true,
      protocolVersion,
      clientId,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    let settled = false;
    const done = (result: Connection) => {
      if (settled) return;
      settled = true;
      if (result.error) client.end(true);
      resolve(result);
    };
    client.once("connect", () => done({ client }));
    client.once("error", (error) => done({ error: `${(error as NodeJS.ErrnoException).code ?? ""} ${error.message}`.trim() }));
    client.once("close", () => done({ error: "connection closed before CONNACK" }));
  });
}

/** Publishes with QoS 1 and returns the PUBACK's reason code (0 = success, >= 0x80 refused). */
export async function publishQos1(client: MqttClient, topic: string, payload: string): Promise<number> {
  try {
    const packet = (await client.publishAsync(topic, payload, { qos: 1 })) as { reasonCode?: number } | undefined;
    return packet?.reasonCode ?? 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number") return code;
    throw error;
  }
}

export interface Point {
  /** nanoseconds since the epoch */
  ns: string;
  time: string;
  measurement: string;
  field: string;
  value: string;
  tags: Record<string, string>;
}

/** Every point of the bucket's `measurement` in the last hour, tags as stored. */
export async function storedPoints(stack: Stack, measurement: string): Promise<Point[]> {
  const result = await stack.influx.query(`from(bucket: "${BUCKET}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "${measurement}")`);
  if (result.error) throw new Error(`query failed: ${result.error}`);
  const points: Point[] = [];
  for (const table of result.tables) {
    for (const row of table.rows) {
      const tags: Record<string, string> = {};
      for (const [key, value] of Object.entries(row)) if (!key.startsWith("_") && key !== "result" && key !== "table") tags[key] = value;
      points.push({ ns: rfc3339ToNs(row._time), time: row._time, measurement: row._measurement, field: row._field, value: row._value, tags });
    }
  }
  return points;
}

/** The latest value of one of the bridge's own counters (Telegraf's internal input, written to the bucket). */
export async function bridgeCounter(stack: Stack, measurement: string, field: string, tags: Record<string, string>): Promise<number | undefined> {
  const match = Object.entries(tags)
    .map(([key, value]) => ` and r.${key} == "${value}"`)
    .join("");
  const result = await stack.influx.query(
    `from(bucket: "${BUCKET}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "${measurement}" and r._field == "${field}"${match}) |> group() |> sort(columns: ["_time"]) |> last()`,
  );
  if (result.error) throw new Error(`query failed: ${result.error}`);
  const value = result.tables[0]?.rows[0]?._value;
  return value === undefined ? undefined : Number(value);
}

/** Nanoseconds since the epoch as line protocol wants them, unique per call within a process. */
let lastNs = 0n;
export function nowNs(): string {
  let ns = BigInt(Date.now()) * 1_000_000n;
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns.toString();
}

/** "2026-12-06T15:40:00.123456789Z" (Flux's RFC 3339 with up to 9 fraction digits) → ns since the epoch. */
export function rfc3339ToNs(time: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(time);
  if (!match) throw new Error(`not an RFC 3339 UTC time: ${time}`);
  return (BigInt(Date.parse(`${match[1]}Z`)) * 1_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"))).toString();
}
