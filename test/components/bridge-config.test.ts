// The bridge's rendered telegraf.conf (components/bridge-config.ts): the device and site come from
// the topic, delivery is at-least-once, only the schema passes, and the token is read from its file.
// The real tier (test/mqtt/) runs the real Telegraf with this same file.
import { BRIDGE_IDENTITY, BRIDGE_SUBSCRIPTION, deviceTopic } from "../../components/broker-config";
import { REJECTED_ALIAS, renderTelegrafConf, schemaFilter, type TelegrafConfOptions } from "../../components/bridge-config";
import { DEFAULT_MEASUREMENT, READING_FIELDS, READING_TAGS } from "../../simulator/src/schema";

const OPTIONS: TelegrafConfOptions = {
  brokerUrl: "ssl://broker:8883",
  caFile: "/etc/iot/bridge/tls/ca.pem",
  certFile: "/etc/iot/bridge/tls/client.crt",
  keyFile: "/etc/iot/bridge/tls/client.key",
  influxUrl: "https://influxdb:8086",
  influxCaFile: "/etc/iot/bridge/tls/ca.pem",
  org: "iot",
  bucket: "sensors",
  tokenDir: "/run/secrets/influxdb-token",
  bufferLimit: 100_000,
  maxUndelivered: 1000,
  healthAddress: "127.0.0.1:8080",
};

/** The tables of a rendered file, each as its header and its one-line "key = value" entries (nested tables kept apart). */
function tables(conf: string): Array<{ header: string; entries: Record<string, string> }> {
  const out: Array<{ header: string; entries: Record<string, string> }> = [];
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      out.push({ header: header[1], entries: {} });
      continue;
    }
    const kv = /^([a-z_]+) = (.*)$/.exec(line);
    if (!kv) throw new Error(`not a one-line TOML key = value: ${line}`);
    out[out.length - 1].entries[kv[1]] = kv[2];
  }
  return out;
}
const table = (conf: string, header: string, alias?: string) => {
  const found = tables(conf).filter((t) => t.header === header && (alias === undefined || t.entries.alias === JSON.stringify(alias)));
  if (found.length !== 1) throw new Error(`expected one [${header}]${alias ? ` alias ${alias}` : ""}, found ${found.length}`);
  return found[0].entries;
};

describe("telegraf.conf", () => {
  const conf = renderTelegrafConf(OPTIONS);

  test("MQTT in: every device's topic at QoS 1, a persistent session under the bridge's client id, its own certificate", () => {
    const mqtt = table(conf, "inputs.mqtt_consumer");
    expect(mqtt).toMatchObject({
      servers: '["ssl://broker:8883"]',
      topics: `["${BRIDGE_SUBSCRIPTION}"]`,
      qos: "1",
      client_id: `"${BRIDGE_IDENTITY}"`,
      persistent_session: "true",
      max_undelivered_messages: "1000",
      tls_ca: `"${OPTIONS.caFile}"`,
      tls_cert: `"${OPTIONS.certFile}"`,
      tls_key: `"${OPTIONS.keyFile}"`,
      data_format: '"influx"',
      // line protocol's own default, stated: a redelivered message keeps its point's timestamp
      influx_timestamp_precision: '"1ns"',
    });
    expect(BRIDGE_SUBSCRIPTION).toBe("devices/+/+/readings");
    expect(BRIDGE_IDENTITY).toBe("bridge");
  });

  test("the device and site tags come from the topic, at the levels a device's topic puts them; no topic tag", () => {
    const mqtt = table(conf, "inputs.mqtt_consumer");
    expect(mqtt.topic_tag).toBe('""');
    const parsing = table(conf, "inputs.mqtt_consumer.topic_parsing");
    expect(parsing.topic).toBe(`"${BRIDGE_SUBSCRIPTION}"`);
    const levels = JSON.parse(parsing.tags).split("/");
    const topic = deviceTopic({ id: "THE-DEVICE", site: "THE-SITE" }).split("/");
    expect(levels).toHaveLength(topic.length);
    expect(levels.length).toBe(BRIDGE_SUBSCRIPTION.split("/").length);
    expect(topic[levels.indexOf("device")]).toBe("THE-DEVICE");
    expect(topic[levels.indexOf("site")]).toBe("THE-SITE");
    // one level each, every other level skipped: no tag comes from anything else
    expect(levels.filter((l: string) => l === "device" || l === "site").sort()).toEqual(["device", "site"]);
    expect(levels.filter((l: string) => l !== "device" && l !== "site").every((l: string) => l === "_")).toBe(true);
  });

  test("the token is read by a secret store from the mounted token file; it is never in the file or the environment", () => {
    expect(table(conf, "secretstores.docker")).toEqual({ id: '"bridge_secrets"', path: `"${OPTIONS.tokenDir}"` });
    const outputs = tables(conf).filter((t) => t.header === "outputs.influxdb_v2");
    expect(outputs).toHaveLength(2);
    for (const { entries } of outputs) {
      expect(entries.token).toBe('"@{bridge_secrets:token}"');
      expect(entries).toMatchObject({ urls: '["https://influxdb:8086"]', organization: '"iot"', bucket: '"sensors"', tls_ca: `"${OPTIONS.influxCaFile}"` });
    }
    expect(conf).not.toMatch(/\$\{?INFLUX|env\./i);
    // verification is never switched off
    expect(conf).not.toMatch(/insecure_skip_verify/);
    // the plaintext opt-out names no CA and still skips no verification
    const plain = renderTelegrafConf({ ...OPTIONS, influxUrl: "http://influxdb:8086", influxCaFile: undefined });
    for (const { entries } of tables(plain).filter((t) => t.header === "outputs.influxdb_v2")) expect(entries.tls_ca).toBeUndefined();
  });

  test("the readings output lets only the schema through; the rejected output takes exactly the rest; the counters go to their own", () => {
    const readings = table(conf, "outputs.influxdb_v2", "readings");
    expect(readings.metricpass).toBe(`'''${schemaFilter()}'''`);
    expect(readings.namepass).toBeUndefined();
    const counters = table(conf, "outputs.influxdb_v2", "bridge_counters");
    expect(counters.namepass).toBe('["bridge_*"]');
    const rejected = table(conf, "outputs.discard", REJECTED_ALIAS);
    expect(rejected.metricpass).toBe(`'''!name.startsWith("bridge_") && !(${schemaFilter()})'''`);
    expect(table(conf, "inputs.internal").name_prefix).toBe('"bridge_"');
  });

  test("the health endpoint listens where the container's check asks", () => {
    expect(table(conf, "outputs.health").service_address).toBe('"http://127.0.0.1:8080"');
  });

  test("the agent: the buffer limit from the options, no host tag", () => {
    expect(table(conf, "agent")).toMatchObject({ metric_buffer_limit: "100000", omit_hostname: "true" });
  });
});

describe("the schema filter", () => {
  const filter = schemaFilter();

  test("the measurement, both tags and no other, each field of the schema with its type", () => {
    expect(filter).toContain(`name == "${DEFAULT_MEASUREMENT}"`);
    for (const tag of READING_TAGS) expect(filter).toContain(`"${tag}" in tags`);
    expect(filter).toContain(`tags.all(k, k in [${READING_TAGS.map((t) => `"${t}"`).join(", ")}])`);
    const fieldClause = /fields\.all\(k, (.*)\)$/.exec(filter)?.[1];
    expect(fieldClause).toBeDefined();
    const allowed = fieldClause!.split(" || ");
    expect(allowed).toHaveLength(Object.keys(READING_FIELDS).length);
    for (const [field, spec] of Object.entries(READING_FIELDS)) {
      expect(allowed).toContain(`(k == "${field}" && type(fields[k]) == ${spec.type === "float" ? "double" : "int"})`);
    }
    expect(allowed).toContain('(k == "rssi_dbm" && type(fields[k]) == int)');
    expect(allowed).toContain('(k == "temperature_c" && type(fields[k]) == double)');
  });

  test("it is built from simulator/src/schema.ts: a field added there is let through with its type", () => {
    let withExtra = "";
    jest.isolateModules(() => {
      jest.doMock("../../simulator/src/schema", () => {
        const actual = jest.requireActual("../../simulator/src/schema");
        return { ...actual, READING_FIELDS: { ...actual.READING_FIELDS, co2_ppm: { type: "integer", unit: "ppm", description: "CO2" } } };
      });
      withExtra = require("../../components/bridge-config").schemaFilter();
    });
    jest.dontMock("../../simulator/src/schema");
    expect(withExtra).toContain('(k == "co2_ppm" && type(fields[k]) == int)');
    expect(filter).not.toContain("co2_ppm");
  });

  test("it has no triple single quote, so it fits in a TOML literal string", () => {
    expect(filter).not.toContain("'''");
  });
});
