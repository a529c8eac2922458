// The bridge's configuration (Telegraf: MQTT in, InfluxDB out), rendered from the schema the
// simulator writes. Pure, so that the mock tests read exactly what the container gets and the
// real tier (test/mqtt/) runs the real Telegraf with this same file.
import { DEFAULT_MEASUREMENT, READING_FIELDS, READING_TAGS } from "../simulator/src/schema";
import { BRIDGE_IDENTITY, BRIDGE_SUBSCRIPTION } from "./broker-config";

export interface TelegrafConfOptions {
  /** e.g. ssl://broker:8883 */
  brokerUrl: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** e.g. https://influxdb:8086 */
  influxUrl: string;
  /** CA that InfluxDB's certificate must chain to; undefined with the plaintext opt-out */
  influxCaFile?: string;
  org: string;
  bucket: string;
  /** directory holding the file `token` (the bridge's write-only InfluxDB token) */
  tokenDir: string;
  /** readings Telegraf holds for InfluxDB when it cannot write (metric_buffer_limit) */
  bufferLimit: number;
  /** messages taken from the broker but not yet written (max_undelivered_messages) */
  maxUndelivered: number;
  /** host:port of Telegraf's health endpoint (outputs.health), for the container's health check */
  healthAddress: string;
}

const SECRET_STORE = "bridge_secrets";

/** TOML basic string: the values here are the program's own names and paths, quoted all the same. */
const quote = (value: string) => JSON.stringify(value);
const list = (values: readonly string[]) => `[${values.map(quote).join(", ")}]`;
/** TOML multi-line literal string: the CEL inside keeps its double quotes unescaped. */
const literal = (value: string) => {
  if (value.includes("'''")) throw new Error("a TOML literal string cannot contain three single quotes");
  return `'''${value}'''`;
};

/**
 * Only readings of the schema pass: the schema's measurement, both tags and no other, fields among
 * the schema's, each of the schema's type. A CEL expression (Telegraf's metricpass, telegraf v1.37.2
 * models/filter.go). Written so that it cannot fail to evaluate: a failing expression lets the
 * metric through (filter.go, Select). The type check matters: a field of the wrong type is a 400 from
 * InfluxDB, which makes Telegraf reject the whole batch, other devices' readings included, and
 * never acknowledge those messages.
 */
export function schemaFilter(): string {
  const cel = (t: "float" | "integer") => (t === "float" ? "double" : "int");
  const fieldRules = Object.entries(READING_FIELDS).map(([field, spec]) => `(k == ${quote(field)} && type(fields[k]) == ${cel(spec.type)})`);
  return [
    `name == ${quote(DEFAULT_MEASUREMENT)}`,
    ...READING_TAGS.map((tag) => `${quote(tag)} in tags`),
    `tags.all(k, k in ${list(READING_TAGS)})`,
    `fields.all(k, ${fieldRules.join(" || ")})`,
  ].join(" && ");
}

/** Prefix of the bridge's own counters (Telegraf's internal input) in the bucket. */
export const BRIDGE_METRICS_PREFIX = "bridge_";
/** The alias of the output that counts what the schema filter turned away (internal_write, metrics_written). */
export const REJECTED_ALIAS = "rejected";

/**
 * telegraf.conf. The reasons for each choice:
 * - the device and site tags come from the topic (topic_parsing), which the broker's ACL ties to
 *   the publishing certificate; they replace any device or site tag the payload carries (AddTag
 *   overwrites: telegraf v1.37.2 plugins/inputs/mqtt_consumer/topic_parser.go). The default `topic`
 *   tag is switched off: the schema has no such tag;
 * - QoS 1, a persistent session under a fixed client id, and at most maxUndelivered messages in
 *   flight: Telegraf acknowledges a message to the broker only once every metric of it has been
 *   written or filtered out (delivery tracking, mqtt_consumer.go onDelivered), so a restart of
 *   Telegraf or an outage of InfluxDB loses nothing the broker has accepted: the broker keeps the
 *   rest queued for the session;
 * - only what the schema allows reaches InfluxDB (metricpass on the readings output); a second
 *   output, which writes nowhere, takes exactly what the first turns away, so that its written count
 *   is the number of rejected readings; a malformed payload is acknowledged, logged and counted as
 *   a gather error (mqtt_consumer.go onMessage);
 * - Telegraf's own counters go to the same bucket under the prefix bridge_, so that the dashboards
 *   can show what the bridge received, wrote and rejected;
 * - the InfluxDB token is read from its file by a secret store, never from the environment.
 */
export function renderTelegrafConf(o: TelegrafConfOptions): string {
  const influxOutput = (alias: string, filter: string[]) => [
    "[[outputs.influxdb_v2]]",
    `  alias = ${quote(alias)}`,
    `  urls = ${list([o.influxUrl])}`,
    `  token = "@{${SECRET_STORE}:token}"`,
    `  organization = ${quote(o.org)}`,
    `  bucket = ${quote(o.bucket)}`,
    ...(o.influxCaFile ? [`  tls_ca = ${quote(o.influxCaFile)}`] : []),
    ...filter,
    "",
  ];
  return [
    "# Rendered by the stack (components/bridge-config.ts); changes here are overwritten.",
    "[agent]",
    // mqtt_consumer reconnects (paho's auto-reconnect is off) only when the agent gathers it: after
    // a broker restart the bridge is back within this interval
    '  interval = "2s"',
    "  round_interval = false",
    "  metric_batch_size = 1000",
    `  metric_buffer_limit = ${o.bufferLimit}`,
    '  flush_interval = "1s"',
    '  flush_jitter = "0s"',
    "  omit_hostname = true",
    // there are no processors or aggregators; stated, because 1.37 warns that the default changes
    "  skip_processors_after_aggregators = true",
    "",
    "[[secretstores.docker]]",
    `  id = ${quote(SECRET_STORE)}`,
    `  path = ${quote(o.tokenDir)}`,
    "",
    "[[inputs.mqtt_consumer]]",
    `  servers = ${list([o.brokerUrl])}`,
    `  topics = ${list([BRIDGE_SUBSCRIPTION])}`,
    "  qos = 1",
    `  client_id = ${quote(BRIDGE_IDENTITY)}`,
    "  persistent_session = true",
    `  max_undelivered_messages = ${o.maxUndelivered}`,
    '  connection_timeout = "30s"',
    '  topic_tag = ""',
    `  tls_ca = ${quote(o.caFile)}`,
    `  tls_cert = ${quote(o.certFile)}`,
    `  tls_key = ${quote(o.keyFile)}`,
    '  data_format = "influx"',
    // the line protocol default, stated: a redelivered message keeps its timestamp, so it overwrites its own point
    '  influx_timestamp_precision = "1ns"',
    "  [[inputs.mqtt_consumer.topic_parsing]]",
    `    topic = ${quote(BRIDGE_SUBSCRIPTION)}`,
    '    tags = "_/site/device/_"',
    "",
    "[[inputs.internal]]",
    '  interval = "10s"',
    `  name_prefix = ${quote(BRIDGE_METRICS_PREFIX)}`,
    "  collect_memstats = false",
    "",
    ...influxOutput("readings", [`  metricpass = ${literal(schemaFilter())}`]),
    ...influxOutput("bridge_counters", [`  namepass = ${list([`${BRIDGE_METRICS_PREFIX}*`])}`]),
    "[[outputs.discard]]",
    `  alias = ${quote(REJECTED_ALIAS)}`,
    `  metricpass = ${literal(`!name.startsWith(${quote(BRIDGE_METRICS_PREFIX)}) && !(${schemaFilter()})`)}`,
    "",
    // Healthy while Telegraf runs its outputs; it sees only the bridge's own counters.
    "[[outputs.health]]",
    `  service_address = ${quote(`http://${o.healthAddress}`)}`,
    `  namepass = ${list([`${BRIDGE_METRICS_PREFIX}*`])}`,
    "",
  ].join("\n");
}
