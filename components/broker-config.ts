// The broker's configuration files, rendered from the declared devices. Pure, so that the mock
// tests read exactly what the container gets and the real-broker tier (test/mqtt/) runs Debian's
// mosquitto with these same files.

/** One device as the broker knows it: its identity (the certificate's CN) and the site in its topic. */
export interface DeviceIdentity {
  id: string;
  site: string;
}

/** The only topic a device may publish to; the bridge reads every device's. */
export function deviceTopic(device: DeviceIdentity): string {
  return `devices/${device.site}/${device.id}/readings`;
}
export const BRIDGE_SUBSCRIPTION = "devices/+/+/readings";

/** Client identities (certificate CNs) of the stack's own MQTT clients; no device may take them. */
export const BRIDGE_IDENTITY = "bridge";
export const HEALTH_IDENTITY = "broker-health";
/** The topic the health check reads: Mosquitto publishes it every $SYS interval (sys_interval). */
export const HEALTH_TOPIC = "$SYS/broker/uptime";

export interface MosquittoConfOptions {
  port: number;
  certFile: string;
  keyFile: string;
  caFile: string;
  crlFile: string;
  aclFile: string;
  /** directory of mosquitto.db, with a trailing slash */
  persistenceDir: string;
  tlsMinVersion: "1.2" | "1.3";
  /** QoS 1 messages kept for a subscriber that is offline or slow (the bridge), beyond which the broker drops them */
  maxQueuedMessages: number;
  /**
   * The same queue's bound in payload bytes: a device may send messages up to max_packet_size, so a
   * count alone would not bound the broker's memory.
   */
  maxQueuedBytes: number;
  /**
   * QoS 1 messages sent to one client and not yet acknowledged. The bridge acknowledges a message
   * only once InfluxDB has it, and speaks MQTT 3.1.1 (no receive maximum), so Mosquitto's default
   * of 20 would cap it at 20 messages per write: set to the bridge's max_undelivered_messages.
   */
  maxInflightMessages: number;
}

/**
 * mosquitto.conf. Every option is Mosquitto 2.0's (mosquitto.conf(5)); the reasons:
 * - one listener, TLS only, no anonymous access and no passwords: a client is who its certificate
 *   says (use_identity_as_username takes the CN), and the certificate must chain to the stack CA and
 *   not be on the CRL (require_certificate, cafile, crlfile);
 * - the ACL file denies everything it does not grant;
 * - persistence keeps the bridge's session and its queued QoS 1 messages across a restart of the
 *   broker, which is also how a revocation takes effect (the container is replaced);
 * - persistent sessions of clients that never come back are dropped after a week, so that the
 *   database cannot grow without bound;
 * - max_packet_size bounds what one client can make the broker hold: a reading is a few hundred bytes.
 */
export function renderMosquittoConf(o: MosquittoConfOptions): string {
  return [
    "# Rendered by the stack (components/broker-config.ts); changes here are overwritten.",
    "per_listener_settings false",
    "allow_anonymous false",
    `acl_file ${o.aclFile}`,
    "",
    "persistence true",
    `persistence_location ${o.persistenceDir}`,
    "autosave_interval 30",
    "persistent_client_expiration 7d",
    `max_queued_messages ${o.maxQueuedMessages}`,
    `max_queued_bytes ${o.maxQueuedBytes}`,
    `max_inflight_messages ${o.maxInflightMessages}`,
    "max_packet_size 65536",
    "",
    // stderr, not stdout: Mosquitto's stdout is block-buffered when it is not a terminal (a
    // container's is a pipe), so its log lines would appear only at exit (seen in test/mqtt/).
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "connection_messages true",
    "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    "",
    `listener ${o.port}`,
    `certfile ${o.certFile}`,
    `keyfile ${o.keyFile}`,
    `cafile ${o.caFile}`,
    `crlfile ${o.crlFile}`,
    `tls_version tlsv${o.tlsMinVersion}`,
    "require_certificate true",
    "use_identity_as_username true",
    "",
  ].join("\n");
}

/**
 * The ACL file: each identity gets exactly what it needs and nothing else. Mosquitto denies any
 * publish or subscribe that no line grants, so an identity without lines (a removed device, a
 * certificate of an unknown CN) can do nothing even while connected.
 */
export function renderAcl(devices: readonly DeviceIdentity[]): string {
  const lines = ["# Rendered by the stack (components/broker-config.ts): deny unless granted below.", ""];
  for (const device of [...devices].sort((a, b) => a.id.localeCompare(b.id))) {
    lines.push(`user ${device.id}`, `topic write ${deviceTopic(device)}`, "");
  }
  lines.push(`user ${BRIDGE_IDENTITY}`, `topic read ${BRIDGE_SUBSCRIPTION}`, "");
  lines.push(`user ${HEALTH_IDENTITY}`, `topic read ${HEALTH_TOPIC}`, "");
  return lines.join("\n");
}
