// MQTT tier: who may write what. The real broker (Debian's mosquitto 2.0) with the program's
// mosquitto.conf, ACL and CRL, the real Telegraf with the program's telegraf.conf, the real InfluxDB:
// a device's identity is its certificate, its data lands under that identity and nowhere else, and
// a certificate that is foreign, expired, missing or revoked does not get in.
import { DEFAULT_MEASUREMENT } from "../../simulator/src/schema";
import { deviceTopic, type DeviceIdentity } from "../../components/broker-config";
import { REJECTED_ALIAS, BRIDGE_METRICS_PREFIX } from "../../components/bridge-config";
import { revocationOf } from "./support/broker";
import { createCa } from "./support/pki";
import { waitFor } from "./support/process";
import { BUCKET } from "./support/influxdb";
import { bridgeCounter, connectDevice, nowNs, publishQos1, rfc3339ToNs, stackTest, startStack, storedPoints, type Stack } from "./support/stack";
import { mqttTier } from "./support/tier";

const SITE = "lab";
const A: DeviceIdentity = { id: "dev-a", site: SITE };
const B: DeviceIdentity = { id: "dev-b", site: SITE };
const C: DeviceIdentity = { id: "dev-c", site: SITE };
/** MQTT 5 reason code "Not authorized" (MQTT 5.0 §2.4). */
const NOT_AUTHORIZED = 0x87;

const reading = (ns: string, temperature = 21.5) => `${DEFAULT_MEASUREMENT} temperature_c=${temperature},humidity_pct=40.5,pressure_hpa=1013.2,battery_pct=88.0,rssi_dbm=-61i ${ns}`;

mqttTier("MQTT tier: device identity, the ACL and revocation on the real broker, bridge and InfluxDB", () => {
  let stack: Stack | undefined;
  const s = () => stack!;

  beforeAll(async () => {
    stack = await startStack({ devices: [A, B, C] });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  const connect = async (device: DeviceIdentity) => {
    const identity = s().identities.get(device.id)!;
    const { client, error } = await connectDevice(s(), device.id, identity);
    if (!client) throw new Error(`${device.id} could not connect: ${error}`);
    return client;
  };

  /** waits until the point at `ns` is stored and returns its rows (one per field) */
  const pointsAt = (ns: string) =>
    waitFor(
      `the point at ${ns} in InfluxDB`,
      async () => {
        const points = (await storedPoints(s(), DEFAULT_MEASUREMENT)).filter((p) => p.ns === ns);
        return points.length > 0 ? points : undefined;
      },
      20_000,
    );

  stackTest("device A's reading arrives in InfluxDB tagged with A's id and site, from the topic", () => stack, async () => {
    const client = await connect(A);
    const ns = nowNs();
    try {
      expect(await publishQos1(client, deviceTopic(A), reading(ns))).toBe(0);
    } finally {
      await client.endAsync();
    }
    const points = await pointsAt(ns);
    expect(points.map((p) => p.field).sort()).toEqual(["battery_pct", "humidity_pct", "pressure_hpa", "rssi_dbm", "temperature_c"]);
    for (const p of points) expect(p.tags).toEqual({ device: A.id, site: SITE });
  });

  /** every stored point (of any measurement but the bridge's own counters) with one of these timestamps */
  const storedAt = async (stamps: string[]) => {
    const result = await s().influx.query(`from(bucket: "${BUCKET}") |> range(start: -1h) |> filter(fn: (r) => not strings.hasPrefix(v: r._measurement, prefix: "${BRIDGE_METRICS_PREFIX}"))`.replace(/^/, 'import "strings"\n'));
    if (result.error) throw new Error(`query failed: ${result.error}`);
    const wanted = new Set(stamps);
    return result.tables.flatMap((t) => t.rows).filter((row) => wanted.has(rfc3339ToNs(row._time)));
  };

  /** publishes a valid reading from `device` and waits for it: everything `device` sent before it has been through the bridge */
  const barrier = async (device: DeviceIdentity) => {
    const client = await connect(device);
    const ns = nowNs();
    try {
      expect(await publishQos1(client, deviceTopic(device), reading(ns))).toBe(0);
    } finally {
      await client.endAsync();
    }
    return pointsAt(ns);
  };

  stackTest("A publishing to B's topic is refused with MQTT 5 reason code 0x87 (Not authorized), and nothing is stored", () => stack, async () => {
    const client = await connect(A);
    const ns = nowNs();
    try {
      expect(await publishQos1(client, deviceTopic(B), reading(ns))).toBe(NOT_AUTHORIZED);
      // the same for any topic outside its own, the bridge's subscription pattern included
      expect(await publishQos1(client, `devices/${SITE}/${A.id}/other`, reading(nowNs()))).toBe(NOT_AUTHORIZED);
    } finally {
      await client.endAsync();
    }
    await barrier(A);
    expect(await storedAt([ns])).toEqual([]);
  });

  stackTest("an MQTT 3.1.1 device publishing to B's topic gets a plain PUBACK (3.1.1 has no reason codes): the refusal is silent, and nothing is stored", () => stack, async () => {
    const identity = s().identities.get(A.id)!;
    const { client, error } = await connectDevice(s(), A.id, identity, 10_000, 4);
    if (!client) throw new Error(`${A.id} could not connect with MQTT 3.1.1: ${error}`);
    const ns = nowNs();
    try {
      expect(await publishQos1(client, deviceTopic(B), reading(ns))).toBe(0);
    } finally {
      await client.endAsync();
    }
    await barrier(A);
    expect(await storedAt([ns])).toEqual([]);
  });

  stackTest("a device reads nothing: Mosquitto 2.0 grants its SUBSCRIBE, but delivers it no message (no read grant in the ACL)", () => stack, async () => {
    const client = await connect(A);
    const received: string[] = [];
    client.on("message", (topic) => received.push(topic));
    try {
      const granted = await client.subscribeAsync(["devices/#", "#"], { qos: 1 });
      // What 2.0.11 does: the ACL file is consulted when a message is delivered, not at SUBSCRIBE,
      // so the SUBACK grants QoS 1.
      expect(granted.map((g) => g.qos)).toEqual([1, 1]);
      // B's reading went through the broker to the bridge (and into InfluxDB) ...
      await barrier(B);
      // ... but not to A
      expect(received).toEqual([]);
    } finally {
      await client.endAsync();
    }
  });

  stackTest("A's payload claiming device=B and another site is stored as A at A's site (the topic's tags win)", () => stack, async () => {
    const client = await connect(A);
    const ns = nowNs();
    try {
      const claim = `${DEFAULT_MEASUREMENT},device=${B.id},site=elsewhere temperature_c=30.5,humidity_pct=40.5,pressure_hpa=1013.2,battery_pct=88.0,rssi_dbm=-61i ${ns}`;
      expect(await publishQos1(client, deviceTopic(A), claim)).toBe(0);
    } finally {
      await client.endAsync();
    }
    const points = await pointsAt(ns);
    expect(points).toHaveLength(5);
    for (const p of points) expect(p.tags).toEqual({ device: A.id, site: SITE });
    expect(points.find((p) => p.field === "temperature_c")?.value).toBe("30.5");
  });

  stackTest("a disallowed measurement, an unknown field, an extra tag and a wrongly typed field are dropped and counted; a malformed payload is dropped, logged and counted; none is stored", () => stack, async () => {
    const client = await connect(A);
    const stamps = Array.from({ length: 5 }, () => nowNs());
    const [otherMeasurement, unknownField, extraTag, wrongType, malformed] = stamps;
    const mark = s().bridge.process().mark();
    try {
      const payloads = [
        `cpu usage=1.5 ${otherMeasurement}`,
        `${DEFAULT_MEASUREMENT} temperature_c=21.5,firmware_bug=1i ${unknownField}`,
        `${DEFAULT_MEASUREMENT},room=kitchen temperature_c=21.5 ${extraTag}`,
        // an integer where the schema has a float: InfluxDB would refuse the whole batch (field type conflict)
        `${DEFAULT_MEASUREMENT} temperature_c=21i ${wrongType}`,
        `${DEFAULT_MEASUREMENT} temperature_c=21.5 not-a-timestamp ${malformed}`,
      ];
      // the broker accepts each (it does not read payloads); the bridge decides
      for (const payload of payloads) expect(await publishQos1(client, deviceTopic(A), payload)).toBe(0);
    } finally {
      await client.endAsync();
    }
    const valid = await barrier(A);
    expect(valid).toHaveLength(5);
    expect(await storedAt(stamps)).toEqual([]);
    await s().bridge.process().waitForLog(/E! \[inputs\.mqtt_consumer\] Error in plugin: metric parse error/, 5_000, mark);
    // Telegraf's own counters reach the bucket every agent interval (10 s): wait for them to count all
    const counted = async (measurement: string, field: string, tags: Record<string, string>, expected: number) => {
      const value = await waitFor(`${measurement} ${field} reaching ${expected}`, async () => {
        const v = await bridgeCounter(s(), `${BRIDGE_METRICS_PREFIX}${measurement}`, field, tags);
        return v !== undefined && v >= expected ? v : undefined;
      }, 30_000, 1_000);
      expect(value).toBe(expected);
    };
    await counted("internal_write", "metrics_written", { output: "discard", alias: REJECTED_ALIAS }, 4);
    await counted("internal_gather", "errors", { input: "mqtt_consumer" }, 1);
  }, 60_000);

  /**
   * Connects with `creds` and expects the TLS handshake to fail: the client sees the TLS alert the
   * broker sent (its reason), the broker logs OpenSSL's reason, and no MQTT session starts.
   */
  const expectRefused = async (clientId: string, creds: { certPem?: string; keyPem?: string }, alert: string, brokerSays: RegExp) => {
    const mark = s().broker.process().mark();
    const result = await connectDevice(s(), clientId, creds);
    if (result.client) {
      result.client.end(true);
      throw new Error(`${clientId} connected; expected the broker to refuse the TLS handshake (${alert})`);
    }
    expect(result.error).toMatch(new RegExp(`^${alert} `));
    // Mosquitto ends a refused handshake with one of two lines, depending on when OpenSSL fails it:
    // during the handshake ("Client connection from … failed: …") or once it completed on the
    // server's side under TLS 1.3 ("Client <unknown> disconnected"); both runs were seen here.
    const ended = /Client <unknown> disconnected|Client connection from \S+ failed/;
    const log = await s().broker.process().waitForLog(ended, 5_000, mark).then(() => s().broker.process().log().slice(mark));
    expect(log).toMatch(brokerSays);
    expect(log).not.toMatch(/New client connected/);
  };

  stackTest("a certificate from another CA, an expired certificate and no certificate are refused at connect, each with its TLS alert", () => stack, async () => {
    const foreign = await (await createCa("another CA")).client(C.id);
    const now = Date.now();
    const expired = await s().ca.client(C.id, { notBefore: new Date(now - 48 * 3_600_000), notAfter: new Date(now - 3_600_000) });
    // Mosquitto logs the same line for the first two; the alert it sends the client tells them apart.
    await expectRefused(C.id, foreign, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", /OpenSSL Error\[0\]: .*certificate verify failed/);
    await expectRefused(C.id, expired, "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED", /OpenSSL Error\[0\]: .*certificate verify failed/);
    await expectRefused(C.id, {}, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", /OpenSSL Error\[0\]: .*peer did not return a certificate/);
  });

  stackTest("revocation: the broker replaced with the new CRL and ACL closes the revoked device's open session, refuses its certificate, and lets the others in", () => stack, async () => {
    const client = await connect(C);
    let closed = false;
    client.once("close", () => (closed = true));
    try {
      expect(await publishQos1(client, deviceTopic(C), reading(nowNs()))).toBe(0);
      // `up` after C is removed from the devices: C's serial on the CRL, C gone from the ACL, the
      // broker container replaced because its files changed
      await s().broker.replace({ devices: [A, B], revoked: [revocationOf(C.id, s().identities.get(C.id)!)] });
      await waitFor("C's session to be closed", () => (closed ? true : undefined), 10_000);
      expect(client.connected).toBe(false);
    } finally {
      client.end(true);
    }
    // its certificate (still within its validity, signed by the stack CA) no longer gets in
    await expectRefused(C.id, s().identities.get(C.id)!, "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED", /OpenSSL Error\[0\]: .*certificate verify failed/);
    // the other devices do, and the bridge reconnects on its own (next agent interval) and delivers
    await barrier(A);
  }, 60_000);

  stackTest("Telegraf's health endpoint answers while the bridge runs", () => stack, async () => {
    const res = await fetch(s().bridge.healthUrl);
    expect(res.status).toBe(200);
  });
});
