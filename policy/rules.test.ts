import type { ReportViolation, ResourceValidationArgs } from "@pulumi/policy";
import { policies } from "./rules";
import { renderAcl, renderMosquittoConf } from "../components/broker-config";
import { runUnderMocks, stackConfig } from "../test/support/harness";

function violations(type: string, props: Record<string, any>): string[] {
  const found: string[] = [];
  for (const policy of policies) {
    const report: ReportViolation = (message: string) => found.push(`${policy.name}: ${message}`);
    const validate = policy.validateResource;
    for (const fn of Array.isArray(validate) ? validate : validate ? [validate] : []) {
      fn({ type, props, name: "r", urn: "urn:r", opts: {}, stackTags: new Map() } as unknown as ResourceValidationArgs, report);
    }
  }
  return found;
}

describe.each([
  ["dev", {}],
  ["prod", {}],
  ["prod", { devices: ["pump-7", { id: "tank-1", site: "plant-2" }], mqttBindAddress: "192.0.2.10" }],
] as const)("the %s stack %j passes every rule", (stack, overrides) => {
  test("no violation on any resource", async () => {
    const run = await runUnderMocks(stack, stackConfig(stack, overrides));
    const all = run.resources.flatMap((r) => violations(r.type, r.inputs).map((v) => `${r.name}: ${v}`));
    expect(all).toEqual([]);
    expect(run.resources.filter((r) => r.type === "docker:index/container:Container").length).toBeGreaterThan(0);
  });
});

/** A started container that passes every rule. */
const good = {
  user: "1000:1000",
  readOnly: true,
  capabilities: { drops: ["ALL"], adds: [] },
  securityOpts: ["no-new-privileges:true"],
  memory: 256,
  memorySwap: 256,
  cpus: "0.5",
  restart: "on-failure",
  maxRetryCount: 3,
  logOpts: { "max-size": "10m", "max-file": "3" },
  healthcheck: { tests: ["CMD", "true"] },
  wait: true,
  mounts: [{ type: "volume", source: "data", target: "/data" }],
  ports: [{ internal: 3000, external: 3000, ip: "127.0.0.1" }],
};

describe("each rule catches what it is for", () => {
  const container = (change: Record<string, any>) => violations("docker:index/container:Container", { ...good, ...change });

  test("a good container passes", () => expect(container({})).toEqual([]));

  test.each([
    ["root user", { user: "0:0" }, /container-not-root: runs as "0:0"/],
    ["no user", { user: undefined }, /container-not-root: runs as "the image's default user"/],
    ["writable root", { readOnly: false }, /container-read-only-root/],
    ["capabilities kept", { capabilities: { drops: [] } }, /container-drop-all-capabilities: capabilities.drops must contain "ALL"/],
    ["capability added", { capabilities: { drops: ["ALL"], adds: ["SYS_ADMIN"] } }, /adds capabilities back: SYS_ADMIN/],
    ["new privileges", { securityOpts: [] }, /container-no-new-privileges/],
    ["privileged", { privileged: true }, /runs privileged/],
    ["seccomp off", { securityOpts: ["no-new-privileges:true", "seccomp=unconfined"] }, /container-keeps-engine-confinement: securityOpts turns confinement off: "seccomp=unconfined"/],
    ["apparmor off", { securityOpts: ["no-new-privileges:true", "apparmor:unconfined"] }, /turns confinement off: "apparmor:unconfined"/],
    ["selinux labels off", { securityOpts: ["no-new-privileges:true", "label=disable"] }, /turns confinement off: "label=disable"/],
    ["host network", { networkMode: "host" }, /networkMode is "host"/],
    ["host pid", { pidMode: "host" }, /pidMode is "host"/],
    ["bind mount", { mounts: [{ type: "bind", source: "/etc", target: "/host-etc" }] }, /mounts a bind at \/host-etc/],
    ["docker socket", { mounts: [{ type: "volume", source: "/var/run/docker.sock", target: "/s" }] }, /mounts the Docker socket/],
    ["host path volume", { volumes: [{ hostPath: "/", containerPath: "/host" }] }, /mounts the host path \//],
    ["no memory limit", { memory: undefined }, /no memory limit/],
    ["swap beyond the limit", { memorySwap: -1 }, /memorySwap allows swap/],
    ["no cpu limit", { cpus: undefined }, /no CPU limit/],
    ["restart always", { restart: "always" }, /restart "always"/],
    ["unbounded on-failure", { maxRetryCount: 0 }, /retries forever/],
    ["no log rotation", { logOpts: {} }, /logs are not rotated/],
    ["no health check", { healthcheck: undefined }, /no health check/],
    ["not health-gated", { wait: false }, /does not wait/],
    ["port on every address", { ports: [{ internal: 3000, external: 3000 }] }, /port 3000 is published on every host address/],
  ])("%s", (_name, change, message) => {
    expect(container(change).join("\n")).toMatch(message);
  });

  test("a never-started loader may have a writable root (Docker needs it for uploads) but nothing else", () => {
    const loader = { start: false, user: "65534:65534", readOnly: false, capabilities: { drops: ["ALL"] }, securityOpts: ["no-new-privileges:true"], networkMode: "none" };
    expect(violations("docker:index/container:Container", loader)).toEqual([]);
    expect(violations("docker:index/container:Container", { ...loader, user: "root" }).join()).toMatch(/container-not-root/);
  });

  test.each([
    ["influxdb:latest", ["image-pinned-by-digest: influxdb:latest is not pinned by digest", "image-pinned-by-digest: influxdb:latest uses the latest tag"]],
    ["influxdb:2.9.1", ["image-pinned-by-digest: influxdb:2.9.1 is not pinned by digest"]],
    [`influxdb:latest@sha256:${"a".repeat(64)}`, [`image-pinned-by-digest: influxdb:latest@sha256:${"a".repeat(64)} uses the latest tag`]],
  ])("image %s", (name, expected) => {
    expect(violations("docker:index/remoteImage:RemoteImage", { name })).toEqual(expected);
  });

  test("a pinned image passes", () => {
    expect(violations("docker:index/remoteImage:RemoteImage", { name: `influxdb:2.9.1@sha256:${"0".repeat(64)}` })).toEqual([]);
  });
});

describe("the MQTT broker's rules catch what they are for", () => {
  const CONF = renderMosquittoConf({
    port: 8883,
    certFile: "/etc/iot/broker/tls/server.crt",
    keyFile: "/etc/iot/broker/tls/server.key",
    caFile: "/etc/iot/broker/tls/ca.pem",
    crlFile: "/etc/iot/broker/tls/crl.pem",
    aclFile: "/etc/iot/broker/acl",
    persistenceDir: "/mosquitto/data/",
    tlsMinVersion: "1.3",
    maxQueuedMessages: 1000,
    maxQueuedBytes: 33_554_432,
    maxInflightMessages: 100,
  });
  const ACL = renderAcl([{ id: "pump-7", site: "plant-2" }]);
  /** The broker's files loader as FileVolume sends it, with the given mosquitto.conf and ACL. */
  const loader = (conf: string, acl: string | undefined = ACL) => ({
    start: false,
    user: "65534:65534",
    readOnly: false,
    capabilities: { drops: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    networkMode: "none",
    uploads: [
      { file: "/staging/mosquitto.conf", content: conf, owner: "1883", group: "1883", permissions: "0444" },
      ...(acl === undefined ? [] : [{ file: "/staging/acl", content: acl, owner: "1883", group: "1883", permissions: "0444" }]),
    ],
  });
  const check = (conf: string, acl?: string) => violations("docker:index/container:Container", loader(conf, acl));
  const without = (option: string) => CONF.split("\n").filter((l) => !l.startsWith(`${option} `)).join("\n");
  // built while the cases are collected: a rendered file without the line fails the whole file, by name
  const replaced = (from: string, to: string) => {
    if (!CONF.includes(from)) throw new Error(`the rendered mosquitto.conf has no line "${from}" to weaken`);
    return CONF.replace(from, to);
  };

  test("the rendered configuration passes", () => expect(check(CONF)).toEqual([]));

  test.each([
    ["anonymous access", replaced("allow_anonymous false", "allow_anonymous true"), /mqtt-broker-no-anonymous: mosquitto.conf: allow_anonymous true in the configuration/],
    ["anonymous access on the listener", `${CONF}\nallow_anonymous true\n`, /mqtt-broker-no-anonymous: mosquitto.conf: allow_anonymous true in listener 8883/],
    ["no certificate on the listener", without("certfile"), /mqtt-broker-tls-listeners-only: mosquitto.conf: listener 8883 has no certfile/],
    ["no key on the listener", without("keyfile"), /listener 8883 has no keyfile/],
    ["no CA to verify clients", without("cafile"), /listener 8883 has no cafile/],
    ["a second, plaintext listener", `${CONF}\nlistener 1883\n`, /mqtt-broker-tls-listeners-only: mosquitto.conf: listener 1883 has no certfile/],
    ["the default listener, plaintext", `port 1883\n${CONF}`, /mosquitto.conf: port 1883 has no certfile/],
    ["no listener at all (Mosquitto 2 then listens in plaintext on localhost)", CONF.split("\n").filter((l) => !/^(listener|certfile|keyfile|cafile) /.test(l)).join("\n"), /the default listener \(no listener declared\) has no certfile/],
    ["TLS options before the listener (they go to the default listener)", `certfile /c\nkeyfile /k\ncafile /ca\n${without("certfile").replace(/^keyfile .*$/m, "").replace(/^cafile .*$/m, "")}`, /listener 8883 has no certfile/],
    ["no client certificate required", replaced("require_certificate true", "require_certificate false"), /mqtt-broker-certificate-identity: mosquitto.conf: listener 8883 does not set require_certificate true/],
    ["require_certificate missing", without("require_certificate"), /listener 8883 does not set require_certificate true/],
    ["identity not from the certificate", without("use_identity_as_username"), /listener 8883 does not set use_identity_as_username true/],
    ["no ACL file", without("acl_file"), /mqtt-broker-acl: mosquitto.conf: no acl_file/],
    ["an ACL file not staged", replaced("acl_file /etc/iot/broker/acl", "acl_file /etc/iot/broker/devices.acl"), /mqtt-broker-acl: mosquitto.conf: acl_file \/etc\/iot\/broker\/devices.acl is not among the files staged with it/],
  ])("%s", (_name, conf, message) => {
    expect(check(conf).join("\n")).toMatch(message);
  });

  test.each([
    ["a device writing a wildcard", ACL.replace("topic write devices/plant-2/pump-7/readings", "topic write devices/#"), /mqtt-broker-acl: ACL: pump-7 may publish to the wildcard devices\/#/],
    ["readwrite by default on a wildcard", ACL.replace("topic write devices/plant-2/pump-7/readings", "topic devices/+/pump-7/readings"), /ACL: pump-7 may publish to the wildcard devices\/\+\/pump-7\/readings/],
    ["a grant before any user", `topic read $SYS/#\n${ACL}`, /ACL: "topic read \$SYS\/#" comes before any user line/],
    ["a pattern for everyone", `${ACL}\npattern write devices/%u/#\n`, /ACL: "pattern write devices\/%u\/#" applies to every client/],
  ])("ACL: %s", (_name, acl, message) => {
    expect(check(CONF, acl).join("\n")).toMatch(message);
  });

  test("only a file named mosquitto.conf is read as the broker's configuration", () => {
    const other = { ...loader("allow_anonymous true\nlistener 1883\n"), uploads: [{ file: "/staging/other.conf", content: "allow_anonymous true\nlistener 1883\n" }] };
    expect(violations("docker:index/container:Container", other)).toEqual([]);
  });

  const broker = {
    ...good,
    user: "1883:1883",
    command: ["mosquitto", "-c", "/etc/iot/broker/mosquitto.conf"],
    ports: [{ internal: 8883, external: 8883, ip: "127.0.0.1", protocol: "tcp" }],
  };
  const brokerViolations = (change: Record<string, any>) => violations("docker:index/container:Container", { ...broker, ...change });

  test("the broker publishing its one port on a named address passes (a LAN address too)", () => {
    expect(brokerViolations({})).toEqual([]);
    expect(brokerViolations({ ports: [{ internal: 8883, external: 18883, ip: "192.0.2.10", protocol: "tcp" }] })).toEqual([]);
  });

  test.each([
    ["no address", { ports: [{ internal: 8883, external: 8883 }] }, /mqtt-broker-published-on-one-address: the broker's port 8883 names no IPv4 address/],
    ["every IPv6 address", { ports: [{ internal: 8883, external: 8883, ip: "::" }] }, /the broker's port 8883 names no IPv4 address/],
    ["a second port", { ports: [...broker.ports, { internal: 1883, external: 1883, ip: "127.0.0.1" }] }, /the broker publishes 2 ports; it has one listener/],
    ["udp", { ports: [{ internal: 8883, external: 8883, ip: "127.0.0.1", protocol: "udp" }] }, /the broker's port 8883 is udp, not tcp/],
  ])("broker: %s", (_name, change, message) => {
    expect(brokerViolations(change).join("\n")).toMatch(message);
  });

  test("every IPv4 address is allowed for the broker (a documented choice) but reported like any port", () => {
    expect(brokerViolations({ ports: [{ internal: 8883, external: 8883, ip: "0.0.0.0", protocol: "tcp" }] })).toEqual([
      "published-ports-bound-to-an-address: port 8883 is published on every host address",
    ]);
  });
});
