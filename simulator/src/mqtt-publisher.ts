import { connect as mqttConnect, type IClientOptions, type MqttClient, type Packet } from "mqtt";
import type { Logger } from "pino";
import type { MqttSimulatorConfig } from "./config";
import { TLS_TRUST_ERROR_CODES, describeError, isTlsTrustError } from "./errors";
import type { Chunk } from "./fleet";
import type { ReadingSink } from "./simulator";
import { abortReserveMs, type WriteCounters } from "./writer";

/**
 * How long the broker keeps a device's session after its connection ends (MQTT 5 Session Expiry
 * Interval, seconds). With clean start false the device resumes it on reconnect; an hour outlasts
 * a broker restart or a redeploy of the simulator. Zero (the protocol's default) would end the
 * session with the connection, which would make "clean: false" a no-op.
 */
export const SESSION_EXPIRY_SECONDS = 3600;

/**
 * Unacknowledged publishes one device may have: MQTT packet identifiers are 16 bits, and mqtt.js
 * hands them out in turn without checking that one is still in use, so a device with more than
 * 65,535 in flight would reuse an identifier and lose track of a reading.
 */
const MAX_DEVICE_INFLIGHT = 60_000;

/** How often repeated connection failures and aggregated drops are logged (the counters are always exact). */
const LOG_EVERY_MS = 5000;

/** PUBACK reason codes from 0x80 on are failures (MQTT 5, 3.4.2.1); below are successes. */
const FIRST_FAILURE_REASON = 0x80;

/** MQTT 5 reason code names (the specification's table 3.4.2.1 and 3.14.2.1) for the log. */
const REASON_NAMES: Record<number, string> = {
  0x80: "Unspecified error",
  0x83: "Implementation specific error",
  0x87: "Not authorized",
  0x90: "Topic Name invalid",
  0x91: "Packet Identifier in use",
  0x97: "Quota exceeded",
  0x99: "Payload format invalid",
};

export const SHUTDOWN_UNACKNOWLEDGED = "shutdown timeout: not acknowledged by the broker";

/** The topic a device publishes to (design: devices/<site>/<id>/readings; the bridge reads site and device from it). */
export function readingsTopic(site: string, id: string): string {
  return `devices/${site}/${id}/readings`;
}

/**
 * One line of the fleet (device dev-000001 … in order, millisecond timestamp) as the device's MQTT
 * payload: the same measurement, fields and time, tagged with the device's own id, the timestamp in
 * nanoseconds (line protocol's default precision, which is what the bridge parses; ms × 1e6, written
 * by appending six zeros so that no float rounding can touch it). Returns the device's index too.
 */
const FLEET_LINE = /^([^,\s]+),device=dev-(\d+),site=(\S+) (\S+) (\d+)$/;
export function deviceMessage(line: string, ids: readonly string[]): { device: number; payload: string } {
  const match = FLEET_LINE.exec(line);
  if (!match) throw new Error(`not a line of the fleet: ${line.slice(0, 200)}`);
  const [, measurement, number, site, fields, milliseconds] = match;
  const device = Number(number) - 1;
  const id = ids[device];
  if (id === undefined) throw new Error(`device number ${number} has no identity (${ids.length} devices)`);
  return { device, payload: `${measurement},device=${id},site=${site} ${fields} ${milliseconds}000000` };
}

interface DeviceState {
  id: string;
  topic: string;
  client: MqttClient;
  /** readings published and not yet acknowledged or given up on */
  inflight: number;
  connected: boolean;
  /** epoch ms: connected now (updated on each look), or when the connection was lost; 0: never */
  lastConnectedAt: number;
  lastError?: Record<string, unknown>;
}

type Connect = (url: string, options: IClientOptions) => MqttClient;

/**
 * The MQTT write path: each simulated device is one mqtt.js client with its own TLS session and
 * client certificate (MQTT 5, client id = device id, clean start false with a session expiry), and
 * publishes each of its readings with QoS 1 to its own topic. A reading is written when its PUBACK
 * carries a reason code below 0x80, dropped (and logged, with the reason) when the broker refuses it
 * (e.g. 0x87 Not authorized, the ACL), when its device's buffer is full, or when the shutdown
 * deadline comes before its PUBACK; until then it is in flight, so that
 * points_generated = points_written + points_dropped + in flight, as with InfluxDB.
 *
 * Buffering: mqtt.js keeps every unacknowledged QoS 1 publish (also those made while offline) in its
 * in-memory store and sends them again when it reconnects. It has no limit of its own, so this class
 * bounds it: the simulator waits once SIM_MAX_INFLIGHT_LINES readings are in flight, so that nothing
 * more is generated or buffered while the broker is away; once the devices are back and it runs
 * again, it gives up (counted) the readings more than SIM_MAX_LAG_MS old, as in the HTTPS mode. A
 * device without a connection holds at most two shares of that cap, so that a device that cannot
 * connect while the others can drops its own readings ("buffer full") instead of taking the whole
 * buffer and stalling the fleet. (Right after a broker restart, a device that reconnects a little
 * later than the others may so give up a few of the old readings the fleet is catching up on.)
 */
export class MqttPublisher implements ReadingSink {
  private readonly devices: DeviceState[];
  private readonly ids: string[];
  private readonly perDeviceCap: number;
  private generated = 0;
  private written = 0;
  private dropped = 0;
  private peakInflight = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** set once the final counts are taken: later callbacks from the clients change nothing */
  private settled = false;
  private lastAckAt = 0;
  /** drops waiting to be logged, by reason (logged at most every LOG_EVERY_MS, and at the end) */
  private pendingDrops = new Map<string, number>();
  private dropLogTimer?: NodeJS.Timeout;
  private lastConnectionWarnAt = 0;
  private suppressedConnectionWarnings = 0;
  private everyDeviceConnectedOnce = false;
  /** chunks of one reading: each reading is one publish, sent as soon as it is due */
  readonly recordLines = 1;

  constructor(
    private readonly config: MqttSimulatorConfig,
    private readonly log: Logger,
    connect: Connect = mqttConnect,
  ) {
    this.ids = config.identities.map((identity) => identity.id);
    // Twice the fair share: when the whole fleet waits for the broker, the fleet's cap is reached
    // first and nothing is dropped here, even when the PUBACKs after a reconnection come back to the
    // devices unevenly; when one device alone cannot publish, it holds at most two shares.
    this.perDeviceCap = Math.min(MAX_DEVICE_INFLIGHT, config.maxInflightLines, Math.max(1, Math.ceil((2 * config.maxInflightLines) / config.identities.length)));
    const url = config.mqttUrl;
    const brokerUrl = `mqtts://${url.host}${url.port === "" ? ":8883" : ""}`;
    this.devices = config.identities.map((identity) => {
      const client = connect(brokerUrl, {
        protocolVersion: 5,
        clientId: identity.id,
        clean: false,
        properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS },
        cert: identity.certPem,
        key: identity.keyPem,
        // Trust exactly the configured CA when one is given; verification itself is never turned off.
        ...(config.caPem ? { ca: config.caPem } : {}),
        rejectUnauthorized: true,
        reconnectPeriod: config.retryMinMs,
        connectTimeout: config.requestTimeoutMs,
        // A refused CONNECT (e.g. 0x88 Server unavailable while the broker starts) is retried like a lost connection.
        reconnectOnConnackError: true,
        // QoS 0 is never used; nothing else should be queued while offline.
        queueQoSZero: false,
      });
      const device: DeviceState = { id: identity.id, topic: readingsTopic(config.site, identity.id), client, inflight: 0, connected: false, lastConnectedAt: 0 };
      client.on("connect", (connack) => this.onConnect(device, connack.sessionPresent));
      client.on("close", () => this.onClose(device));
      // mqtt.js emits "error" for TLS failures and refused CONNECTs, and reconnects by itself.
      client.on("error", (error) => this.onConnectionError(device, error));
      return device;
    });
  }

  get counters(): WriteCounters {
    return { points_generated: this.generated, points_written: this.written, points_dropped: this.dropped };
  }

  /** The summary's extra figures: the most readings ever in flight (the buffer's high-water mark). */
  get summary(): Record<string, number> {
    return { inflight_peak: this.peakInflight, inflight_cap: this.config.maxInflightLines };
  }

  get inflight(): number {
    return this.generated - this.written - this.dropped;
  }

  private get connectedCount(): number {
    return this.devices.filter((device) => device.connected).length;
  }

  /**
   * What the health file records as the last success (health.ts; judged against
   * SIM_HEALTH_MAX_AGE_MS). Healthy in MQTT mode means both: the broker acknowledged a reading
   * recently, and no device has been without a connection for longer than that. The older of the
   * two is the answer. Per-device acknowledgements are not required: a device in a simulated radio
   * dropout (six readings) legitimately publishes nothing for a while.
   */
  lastSuccessAt(now = Date.now()): number {
    let oldestConnection = now;
    for (const device of this.devices) {
      if (device.connected) device.lastConnectedAt = now;
      oldestConnection = Math.min(oldestConnection, device.lastConnectedAt);
    }
    return Math.min(this.lastAckAt, oldestConnection);
  }

  /**
   * Waits until every device has connected once, for at most SIM_STARTUP_TIMEOUT_MS, like the HTTPS
   * mode's probe of the server: a broker certificate that MQTT_CA_FILE does not vouch for fails at
   * once (throws), an unreachable broker only delays the start (the clients keep reconnecting and
   * the readings wait in the buffer). Ends at once when `signal` aborts.
   */
  async waitForConnections(signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.config.startupTimeoutMs;
    while (!signal.aborted) {
      const untrusted = this.devices.find((device) => device.lastError && TLS_TRUST_ERROR_CODES.has(device.lastError.code as string));
      if (untrusted) {
        throw new Error(
          `TLS certificate of the broker ${this.config.mqttUrl.host} is not trusted (${untrusted.lastError?.code}: ${untrusted.lastError?.message}); ` +
            (this.config.caPem
              ? "check that MQTT_CA_FILE holds the CA that signed the broker's certificate and that the URL host is in its SANs"
              : "set MQTT_CA_FILE to the CA that signed the broker's certificate"),
        );
      }
      if (this.everyDeviceConnectedOnce) return;
      if (Date.now() >= deadline) {
        const waiting = this.devices.filter((device) => device.lastConnectedAt === 0);
        this.log.warn(
          { devices_not_connected: waiting.length, first: waiting[0]?.id, err: waiting[0]?.lastError },
          "devices still not connected; starting anyway, they keep reconnecting and their readings wait in the buffer",
        );
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(100, Math.max(0, deadline - Date.now())));
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  write(chunk: Chunk): void {
    const lines = chunk.lines === 1 ? [chunk.text] : chunk.text.split("\n");
    for (const line of lines) this.publish(line);
  }

  private publish(line: string): void {
    const { device: index, payload } = deviceMessage(line, this.ids);
    const device = this.devices[index];
    this.generated++;
    if (this.closed) {
      this.onDropped(1, "shutdown: the publisher is closed");
      return;
    }
    // A connected device at its cap is draining (its PUBACKs are coming): it may go on, within the
    // fleet's cap. One without a connection stops taking readings, so it cannot stall the others.
    if (device.inflight >= this.perDeviceCap && (!device.connected || device.inflight >= MAX_DEVICE_INFLIGHT)) {
      this.onDropped(1, `buffer full: ${device.id} is not connected and holds its most unacknowledged readings (two shares of SIM_MAX_INFLIGHT_LINES)`);
      return;
    }
    device.inflight++;
    if (this.inflight > this.peakInflight) this.peakInflight = this.inflight;
    device.client.publish(device.topic, payload, { qos: 1 }, (error, packet) => this.onPublished(device, error, packet));
  }

  private onPublished(device: DeviceState, error: Error | undefined, packet: Packet | undefined): void {
    if (this.settled) return; // counted already, in the final "not acknowledged"
    device.inflight--;
    const reasonCode = (error as { code?: unknown } | undefined)?.code ?? (packet as { reasonCode?: unknown } | undefined)?.reasonCode;
    if (!error && (typeof reasonCode !== "number" || reasonCode < FIRST_FAILURE_REASON)) {
      this.written++;
      this.lastAckAt = Date.now();
      this.wake();
      return;
    }
    if (typeof reasonCode === "number" && reasonCode >= FIRST_FAILURE_REASON) {
      const hex = `0x${reasonCode.toString(16)}`;
      this.onDropped(1, `rejected by the broker (PUBACK ${hex} ${REASON_NAMES[reasonCode] ?? "failure"}) for ${device.id} on ${device.topic}`);
    } else {
      // mqtt.js fails a publish without a reason code only when the client is ended (the shutdown)
      this.onDropped(1, `${SHUTDOWN_UNACKNOWLEDGED} (${error?.message ?? "no PUBACK"})`);
    }
  }

  recordSkipped(readings: number, reason: string): void {
    if (readings === 0) return;
    this.generated += readings;
    this.onDropped(readings, reason);
  }

  waitForCapacity(limit: number): Promise<void> {
    if (this.inflight < limit || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.inflight < limit || this.closed) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /**
   * Waits for the PUBACKs of everything in flight (mqtt.js resends what a lost connection left
   * unacknowledged) until nothing is in flight or the deadline (epoch ms) draws near; then closes
   * every connection (with a DISCONNECT, so that the broker keeps the session for its expiry) and
   * counts what is still unacknowledged as dropped, logged. Returns by the deadline whatever the
   * broker does, with generated = written + dropped.
   */
  async drain(deadline: number): Promise<void> {
    const reserve = abortReserveMs(this.config.shutdownTimeoutMs);
    const waitUntil = deadline - reserve;
    while (this.inflight > 0 && Date.now() < waitUntil) await this.waitForProgress(Math.min(250, Math.max(0, waitUntil - Date.now())));
    this.closed = true;
    const remaining = this.inflight;
    if (remaining > 0) this.onDropped(remaining, SHUTDOWN_UNACKNOWLEDGED);
    this.settled = true;
    this.flushDropLog();
    if (this.dropLogTimer) clearInterval(this.dropLogTimer);
    // A graceful end sends DISCONNECT (reason 0: the session is kept for its expiry interval);
    // whatever does not end by the deadline is closed at once.
    const ends = this.devices.map((device) => new Promise<void>((resolve) => device.client.end(!device.connected || device.inflight > 0, {}, () => resolve())));
    await settledOrAt(Promise.all(ends), deadline);
    for (const device of this.devices) if (!device.client.disconnected) device.client.end(true);
    this.wake();
  }

  private onConnect(device: DeviceState, sessionPresent: boolean): void {
    const first = device.lastConnectedAt === 0;
    device.connected = true;
    device.lastConnectedAt = Date.now();
    device.lastError = undefined;
    this.log.debug({ device: device.id, session_present: sessionPresent, first }, "device connected");
    if (!this.everyDeviceConnectedOnce && this.devices.every((d) => d.lastConnectedAt > 0)) {
      this.everyDeviceConnectedOnce = true;
      this.log.info({ devices: this.devices.length, broker: this.config.mqttUrl.host }, "all devices connected");
    } else if (!first && this.everyDeviceConnectedOnce && this.devices.every((d) => d.connected)) {
      this.log.info({ devices: this.devices.length }, "all devices connected again");
    }
  }

  private onClose(device: DeviceState): void {
    if (!device.connected) return;
    device.connected = false;
    device.lastConnectedAt = Date.now();
    if (this.closed) return;
    this.warnConnection({ device: device.id, devices_connected: this.connectedCount, inflight: this.inflight }, "device lost its connection to the broker, reconnecting");
  }

  private onConnectionError(device: DeviceState, error: Error): void {
    device.lastError = describeError(error);
    if (this.closed) return;
    const trust = isTlsTrustError(error);
    this.warnConnection({ device: device.id, err: device.lastError, devices_connected: this.connectedCount }, trust ? "broker certificate not trusted" : "device cannot connect to the broker, retrying");
  }

  /** Connection trouble comes for all devices at once: one warning per LOG_EVERY_MS, with the number suppressed. */
  private warnConnection(details: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.lastConnectionWarnAt < LOG_EVERY_MS) {
      this.suppressedConnectionWarnings++;
      return;
    }
    this.log.warn({ ...details, similar_warnings_suppressed: this.suppressedConnectionWarnings }, message);
    this.lastConnectionWarnAt = now;
    this.suppressedConnectionWarnings = 0;
  }

  /**
   * Counts dropped readings. They are logged as "points dropped" lines with their reason, as in the
   * HTTPS mode, but grouped: one publish fails at a time here (a denied device would log one line
   * per reading), so drops of the same reason are summed over LOG_EVERY_MS; the first of a quiet
   * spell is logged at once, and the rest before the final summary. The logged points add up to
   * points_dropped.
   */
  private onDropped(count: number, reason: string): void {
    if (this.settled) return;
    this.dropped += count;
    this.pendingDrops.set(reason, (this.pendingDrops.get(reason) ?? 0) + count);
    if (this.dropLogTimer === undefined) {
      this.flushDropLog();
      this.dropLogTimer = setInterval(() => {
        if (this.pendingDrops.size === 0) {
          clearInterval(this.dropLogTimer);
          this.dropLogTimer = undefined;
        } else this.flushDropLog();
      }, LOG_EVERY_MS);
      this.dropLogTimer.unref();
    }
    this.wake();
  }

  private flushDropLog(): void {
    let logged = this.dropped;
    for (const points of this.pendingDrops.values()) logged -= points;
    for (const [reason, points] of this.pendingDrops) {
      logged += points;
      this.log.error({ points, reason, points_dropped: logged }, "points dropped");
    }
    this.pendingDrops.clear();
  }

  private waitForProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Resolves when `promise` settles (either way) or at `deadline` (epoch ms), whichever comes first. */
function settledOrAt(promise: Promise<unknown>, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
