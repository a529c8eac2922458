// The broker's rendered files (components/broker-config.ts): what Mosquitto is told, line by line.
// The real-broker tier (test/mqtt/) runs Debian's mosquitto with these same files; here, every
// option the security of the MQTT path rests on must be there, and nothing that would undo it.
import { BRIDGE_IDENTITY, BRIDGE_SUBSCRIPTION, HEALTH_IDENTITY, HEALTH_TOPIC, deviceTopic, renderAcl, renderMosquittoConf, type MosquittoConfOptions } from "../../components/broker-config";

const OPTIONS: MosquittoConfOptions = {
  port: 8883,
  certFile: "/etc/iot/broker/tls/server.crt",
  keyFile: "/etc/iot/broker/tls/server.key",
  caFile: "/etc/iot/broker/tls/ca.pem",
  crlFile: "/etc/iot/broker/tls/crl.pem",
  aclFile: "/etc/iot/broker/acl",
  persistenceDir: "/mosquitto/data/",
  tlsMinVersion: "1.3",
  maxQueuedMessages: 100_000,
  maxQueuedBytes: 33_554_432,
  maxInflightMessages: 1000,
};

/** The options as Mosquitto reads them: one "name value" per line, comments and blank lines skipped. */
const directives = (conf: string) =>
  conf
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const space = l.indexOf(" ");
      return [l.slice(0, space), l.slice(space + 1)] as const;
    });
const valuesOf = (conf: string, name: string) => directives(conf).filter(([n]) => n === name).map(([, v]) => v);

describe("mosquitto.conf", () => {
  const conf = renderMosquittoConf(OPTIONS);

  test("one listener, on the given port, and it is TLS: certificate, key, CA, CRL and a TLS minimum", () => {
    expect(valuesOf(conf, "listener")).toEqual(["8883"]);
    // no default listener either: Mosquitto 2 opens none when a listener is configured
    expect(valuesOf(conf, "port")).toEqual([]);
    expect(valuesOf(conf, "certfile")).toEqual([OPTIONS.certFile]);
    expect(valuesOf(conf, "keyfile")).toEqual([OPTIONS.keyFile]);
    expect(valuesOf(conf, "cafile")).toEqual([OPTIONS.caFile]);
    expect(valuesOf(conf, "crlfile")).toEqual([OPTIONS.crlFile]);
    expect(valuesOf(conf, "tls_version")).toEqual(["tlsv1.3"]);
    expect(valuesOf(renderMosquittoConf({ ...OPTIONS, tlsMinVersion: "1.2" }), "tls_version")).toEqual(["tlsv1.2"]);
    // the TLS options follow their listener (with per_listener_settings false they apply to it)
    const names = directives(conf).map(([n]) => n);
    for (const option of ["certfile", "keyfile", "cafile", "crlfile", "require_certificate", "use_identity_as_username"]) {
      expect(names.indexOf(option)).toBeGreaterThan(names.indexOf("listener"));
    }
  });

  test("a client is the CN of a certificate it must present; no anonymous access, no passwords", () => {
    expect(valuesOf(conf, "require_certificate")).toEqual(["true"]);
    expect(valuesOf(conf, "use_identity_as_username")).toEqual(["true"]);
    expect(valuesOf(conf, "allow_anonymous")).toEqual(["false"]);
    expect(valuesOf(conf, "per_listener_settings")).toEqual(["false"]);
    for (const absent of ["password_file", "psk_file", "psk_hint", "use_username_as_clientid", "auth_plugin", "plugin", "allow_zero_length_clientid"]) {
      expect({ absent, values: valuesOf(conf, absent) }).toEqual({ absent, values: [] });
    }
  });

  test("the ACL file is loaded; persistence on the data directory; queue and in-flight bounds from the options", () => {
    expect(valuesOf(conf, "acl_file")).toEqual([OPTIONS.aclFile]);
    expect(valuesOf(conf, "persistence")).toEqual(["true"]);
    expect(valuesOf(conf, "persistence_location")).toEqual(["/mosquitto/data/"]);
    expect(valuesOf(conf, "max_queued_messages")).toEqual(["100000"]);
    // and in bytes: a message may be up to max_packet_size, so the count alone would not bound memory
    expect(valuesOf(conf, "max_queued_bytes")).toEqual(["33554432"]);
    expect(valuesOf(conf, "max_inflight_messages")).toEqual(["1000"]);
    // a session that never comes back does not grow the database for ever
    expect(valuesOf(conf, "persistent_client_expiration")).toEqual(["7d"]);
    expect(Number(valuesOf(conf, "max_packet_size")[0])).toBeGreaterThan(0);
  });

  test("every option appears once", () => {
    const names = directives(conf).map(([n]) => n).filter((n) => n !== "log_type");
    expect(names).toEqual([...new Set(names)]);
  });
});

describe("the ACL", () => {
  const devices = [
    { id: "tank-1", site: "plant-2" },
    { id: "pump-7", site: "site-1" },
  ];
  const lines = (acl: string) => acl.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

  test("each device may write its own topic and nothing else; the bridge may read them all; the health check one $SYS topic", () => {
    expect(lines(renderAcl(devices))).toEqual([
      "user pump-7",
      "topic write devices/site-1/pump-7/readings",
      "user tank-1",
      "topic write devices/plant-2/tank-1/readings",
      `user ${BRIDGE_IDENTITY}`,
      `topic read ${BRIDGE_SUBSCRIPTION}`,
      `user ${HEALTH_IDENTITY}`,
      `topic read ${HEALTH_TOPIC}`,
    ]);
    expect([BRIDGE_IDENTITY, BRIDGE_SUBSCRIPTION, HEALTH_IDENTITY, HEALTH_TOPIC]).toEqual(["bridge", "devices/+/+/readings", "broker-health", "$SYS/broker/uptime"]);
  });

  test("deny by default: no pattern lines (which apply to everyone), no readwrite, no topic before the first user, no wildcard a device could use", () => {
    const acl = lines(renderAcl(devices));
    expect(acl[0]).toMatch(/^user /);
    for (const line of acl) {
      expect(line).toMatch(/^(user [a-z0-9-]+|topic (read|write) \S+)$/);
      expect(line).not.toMatch(/^pattern|readwrite|^topic [^r]*#/);
    }
    for (const line of acl.filter((l) => l.startsWith("topic write"))) expect(line).not.toMatch(/[+#]/);
  });

  test("no devices: only the stack's own clients", () => {
    expect(lines(renderAcl([]))).toEqual(["user bridge", "topic read devices/+/+/readings", "user broker-health", "topic read $SYS/broker/uptime"]);
  });

  test("the order of the declaration does not change the file (so reordering devices does not restart the broker)", () => {
    expect(renderAcl([...devices].reverse())).toBe(renderAcl(devices));
  });

  test("a device's topic: site and id from the declaration", () => {
    expect(deviceTopic({ id: "pump-7", site: "plant-2" })).toBe("devices/plant-2/pump-7/readings");
  });
});
