// Config validation: the shipped stack files are valid, every bad value fails with a message that
// names the key and what is allowed, and nothing is created when the config is bad.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS, ConfigError, closest, loadSettings } from "../settings";
import { StackConfigError, readStackConfig, stackNames } from "../stack-config";
import { ROOT, runUnderMocks, stackConfig } from "./support/harness";

const failure = (config: Record<string, string>, stack = "dev"): string => {
  try {
    loadSettings(config, stack);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected the configuration to be rejected");
};

describe("Pulumi.yaml declares every setting", () => {
  const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"));

  test("the program's keys and Pulumi.yaml's are the same", () => {
    expect(Object.keys(project.config).sort()).toEqual([...CONFIG_KEYS].sort());
  });

  // devices alone has no declared type: its entries are strings or { id, site } objects, and a
  // project can type an array's items only as one simple type (see the comment in Pulumi.yaml)
  const UNTYPED = ["devices"];

  test.each(Object.entries<any>(project.config))("%s has a type, a description and a default", (key, spec) => {
    if (UNTYPED.includes(key)) expect(spec.type).toBeUndefined();
    else expect(["string", "integer", "boolean", "array"]).toContain(spec.type);
    expect(typeof spec.description).toBe("string");
    expect(spec.description.length).toBeGreaterThan(20);
    expect(spec).toHaveProperty("default");
  });

  test("devices, untyped, defaults to an empty list: no broker and no bridge unless asked for", () => {
    expect(project.config.devices.default).toEqual([]);
  });

  test("the default state backend is a local folder that git ignores", () => {
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8")).toMatch(/^\.pulumi-state\/$/m);
  });
});

describe("shipped stacks", () => {
  test("dev: few devices, Grafana on 127.0.0.1:3000, short retention, TLS on", () => {
    const s = loadSettings(stackConfig("dev"), "dev");
    expect(s.simulator.devices).toBeLessThanOrEqual(10);
    expect(s.grafana.bindAddress).toBe("127.0.0.1");
    expect(s.grafana.port).toBe(3000);
    expect(s.influx.retention).toBe("7d");
    expect(s.tls.enabled).toBe(true);
    expect(s.protectData).toBe(false);
    expect(s.warnings).toEqual([]);
  });

  test("prod: longer retention, protected data, tighter limits, more devices, TLS on", () => {
    const dev = loadSettings(stackConfig("dev"), "dev");
    const prod = loadSettings(stackConfig("prod"), "prod");
    expect(prod.influx.retention).toBe("365d");
    expect(prod.protectData).toBe(true);
    expect(prod.simulator.devices).toBeGreaterThan(dev.simulator.devices);
    expect(prod.tls.enabled).toBe(true);
    expect(prod.tls.validityHours).toBeLessThan(dev.tls.validityHours);
    expect(prod.containers.restartMaxRetries).toBeLessThan(dev.containers.restartMaxRetries);
    expect(prod.grafana.limits.memoryMb).toBeLessThan(dev.grafana.limits.memoryMb);
    expect(prod.simulator.limits.memoryMb).toBeLessThan(dev.simulator.limits.memoryMb);
  });
});

describe("bad values are rejected with the key and what is allowed", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["non-numeric device count", { simDevices: "many" }, /simDevices must be an integer from 1 to 100000/],
    ["device count out of range", { simDevices: 0 }, /simDevices must be an integer from 1 to 100000/],
    ["fractional interval", { simIntervalMs: 2.5 }, /simIntervalMs must be an integer from 100 to 3600000/],
    ["boolean that is not", { protectData: "yes" }, /protectData must be true or false/],
    ["unknown TLS version", { tlsMinVersion: "1.1" }, /tlsMinVersion must be one of 1\.2, 1\.3/],
    ["unknown restart policy", { restartPolicy: "always" }, /restartPolicy must be one of on-failure, unless-stopped/],
    ["unknown log level", { simLogLevel: "verbose" }, /simLogLevel must be one of fatal, error, warn, info, debug, trace/],
    ["malformed retention", { influxRetention: "30 days" }, /influxRetention must be a duration of at least 1h with one unit h, d or w/],
    ["retention below an hour", { influxRetention: "0h" }, /influxRetention must be a duration of at least 1h/],
    ["malformed bind address", { grafanaBindAddress: "localhost" }, /grafanaBindAddress must be an IPv4 address/],
    ["bind address with a bad octet", { grafanaBindAddress: "127.0.0.256" }, /grafanaBindAddress must be an IPv4 address/],
    ["privileged port", { grafanaPort: 443 }, /grafanaPort must be an integer from 1024 to 65535/],
    ["bucket with a quote", { influxBucket: 'sen"sors' }, /influxBucket must be a name of 1-64 characters/],
    ["site with a space", { simSite: "plant 7" }, /simSite must be a site name of 1-64 characters/],
    ["external names not a list", { grafanaExternalNames: "localhost" }, /grafanaExternalNames must be a non-empty list of host names or IP addresses/],
    ["external name that is neither", { grafanaExternalNames: ["ok.example", "not a host"] }, /grafanaExternalNames has entries that are neither host names nor IP addresses: not a host/],
    ["bad log size", { logMaxSize: "10MB" }, /logMaxSize must be a size such as 500k, 10m or 1g/],
    ["short chosen password", { influxAdminPassword: "hunter2" }, /influxAdminPassword must be at least 16 characters/],
    // the image's entrypoint runs `influx setup --password "$P"`: a leading "-" is read as a flag (real-InfluxDB tier)
    ["chosen InfluxDB password starting with a dash", { influxAdminPassword: "-correct-horse-battery" }, /influxAdminPassword must not start with "-"/],
    ["TLS off without the opt-out", { tlsEnabled: false }, /tlsEnabled=false needs the explicit opt-out allowPlaintext=true/],
    ["renewal window longer than validity", { certValidityHours: 48, certEarlyRenewalHours: 72 }, /certEarlyRenewalHours must be less than certValidityHours/],
    ["published InfluxDB port clashing with Grafana", { influxPublishPort: true, influxHostPort: 3000 }, /influxHostPort and grafanaPort must differ/],
    ["typo in a key", { grafanaPrt: 3000 }, /^ {2}- secure-iot:grafanaPrt is not a setting of this program: did you mean secure-iot:grafanaPort\? \(Pulumi\.yaml lists every setting with its default\)$/m],
    ["key in the wrong case", { simdevices: 7 }, /secure-iot:simdevices is not a setting of this program: did you mean secure-iot:simDevices\?/],
    ["typo in the project's namespace", { "secure-io:simDevices": 7 }, /secure-io:simDevices: nothing reads the namespace "secure-io"; did you mean secure-iot:simDevices\?/],
    ["typo in a provider's namespace", { "dokcer:host": "ssh://admin@edge-01" }, /dokcer:host: nothing reads the namespace "dokcer"; did you mean docker:host\?/],
    ["bad docker host", { "docker:host": "edge-01:2375" }, /docker:host must be a unix:\/\/, tcp:\/\/, ssh:\/\/ or npipe:\/\/ address/],
    ["missing key", { simSeed: undefined }, /simSeed is missing \(Pulumi.yaml declares its default\)/],
    // Grafana's Flux macros are replaced by a pattern without a word boundary: "v.windowPeriod" inside a bucket name would be rewritten
    ["bucket with a dot", { influxBucket: "dev.windowPeriod" }, /influxBucket must be a name of 1-64 characters A-Z a-z 0-9 _ - .*no "\."/],
    // the Docker provider reads 0.05 cores back as "0.1" and would replace the container at every update
    ["cpu limit the provider cannot read back", { influxCpuMillis: 1050 + 9000 }, /influxCpuMillis=10050 cannot be set exactly: Docker's provider reads it back as 10\.1 cores/],
    ["cpu limit below the simulator's minimum", { simCpuMillis: 50 }, /simCpuMillis must be an integer from 100 to 64000/],
    ["unknown platform", { dockerPlatform: "linux/arm/v7" }, /dockerPlatform must be one of linux\/amd64, linux\/arm64/],
    ["CA file that does not exist", { buildCaCertsFile: "/nonexistent/proxy-ca.pem" }, /buildCaCertsFile cannot be read \(\/nonexistent\/proxy-ca.pem\): ENOENT/],
  ];

  test.each(cases)("%s", (_name, overrides, message) => {
    expect(failure(stackConfig("dev", overrides))).toMatch(message);
  });

  test("a build CA file must hold certificates only, and not a whole system bundle", () => {
    const read = (content: string) => () => content;
    const config = stackConfig("dev", { buildCaCertsFile: "proxy-ca.pem" });
    const rejected = (content: string) => {
      try {
        loadSettings(config, "dev", read(content));
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("expected a rejection");
    };
    expect(rejected("not a certificate")).toMatch(/buildCaCertsFile must be a PEM file of CA certificates only \(proxy-ca.pem\)/);
    expect(rejected("-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----")).toMatch(/CA certificates only/);
    expect(rejected(`-----BEGIN CERTIFICATE-----\n${"A".repeat(600 * 1024)}`)).toMatch(/buildCaCertsFile must be at most 512 KiB/);
    const pem = "-----BEGIN CERTIFICATE-----\nPROXY\n-----END CERTIFICATE-----\n";
    expect(loadSettings(config, "dev", read(pem)).simulator.buildCaCerts).toBe(pem);
    expect(loadSettings(stackConfig("dev"), "dev").simulator.buildCaCerts).toBeUndefined();
  });

  test("the platform defaults to linux/amd64 and takes linux/arm64", () => {
    expect(loadSettings(stackConfig("dev"), "dev").platform).toBe("linux/amd64");
    expect(loadSettings(stackConfig("prod", { dockerPlatform: "linux/arm64" }), "prod").platform).toBe("linux/arm64");
  });

  test("an unknown setting far from every known one gets no guess, and not the whole list either", () => {
    const message = failure(stackConfig("dev", { frobnicate: 1 }));
    expect(message).toMatch(/secure-iot:frobnicate is not a setting of this program: \(Pulumi\.yaml lists every setting with its default\)/);
    expect(message).not.toMatch(/did you mean/);
    expect(message).not.toMatch(/tlsEnabled/);
  });

  test("near misses: one edit for short names, two for longer ones, a swap counts as one", () => {
    expect(closest("tsl", ["tls", "docker"])).toBe("tls");
    expect(closest("aws", ["tls", "docker"])).toBeUndefined();
    expect(closest("simDevcies", CONFIG_KEYS)).toBe("simDevices");
    expect(closest("grafanaPortt", CONFIG_KEYS)).toBe("grafanaPort");
    expect(closest("influxRetentionDays", CONFIG_KEYS)).toBeUndefined();
  });

  test("all problems are reported at once", () => {
    const message = failure(stackConfig("dev", { simDevices: -1, grafanaPort: 80, tlsMinVersion: "tls" }));
    expect(message).toMatch(/simDevices/);
    expect(message).toMatch(/grafanaPort/);
    expect(message).toMatch(/tlsMinVersion/);
  });

  test("a stack name that cannot prefix Docker names", () => {
    expect(failure(stackConfig("dev"), "Prod Site")).toMatch(/the stack name "Prod Site" must be 1-40 characters/);
  });

  test("nothing is created when the config is bad", async () => {
    await expect(runUnderMocks("dev", stackConfig("dev", { simDevices: "lots" }))).rejects.toThrow(/simDevices must be an integer/);
  });
});

describe("accepted with a warning", () => {
  test("TLS off with the explicit opt-out (and so no MQTT devices, which need certificates)", () => {
    const s = loadSettings(stackConfig("dev", { tlsEnabled: false, allowPlaintext: true, simMqttDevices: 0 }), "dev");
    expect(s.tls.enabled).toBe(false);
    expect(s.warnings.join("\n")).toMatch(/TLS is OFF/);
  });

  test("Grafana published beyond loopback", () => {
    const s = loadSettings(stackConfig("dev", { grafanaBindAddress: "192.0.2.10" }), "dev");
    expect(s.warnings.join("\n")).toMatch(/Grafana is published on 192\.0\.2\.10:3000, reachable from outside this host/);
  });

  test("a remote Docker host per site", () => {
    const s = loadSettings(stackConfig("prod", { "docker:host": "ssh://admin@edge-01" }), "prod");
    expect(s.dockerHost).toBe("ssh://admin@edge-01");
  });

  test("a key of a namespace nothing here reads has no effect, and says so", () => {
    const s = loadSettings(stackConfig("dev", { "aws:region": "eu-west-1" }), "dev");
    expect(s.warnings).toEqual(["aws:region has no effect: this program and its providers read only the namespaces secure-iot, docker, tls, random, pulumi"]);
  });

  test("keys the providers or the engine read pass without a word", () => {
    const s = loadSettings(stackConfig("dev", { "docker:sshOpts": '["-o","StrictHostKeyChecking=yes"]', "tls:proxy": "{}", "pulumi:tags": "{}" }), "dev");
    expect(s.warnings).toEqual([]);
  });

  test("a chosen password replaces the generated one", () => {
    const s = loadSettings(stackConfig("dev", { grafanaAdminPassword: "correct-horse-battery-staple" }), "dev");
    expect(s.grafana.adminPassword).toBe("correct-horse-battery-staple");
    expect(loadSettings(stackConfig("dev"), "dev").grafana.adminPassword).toBeUndefined();
  });
});

describe("devices over MQTT", () => {
  const many = (count: number) => Array.from({ length: count }, (_, i) => `device-${i}`);

  test("the shipped stacks: dev runs three simulated MQTT devices and no real one, prod none at all", () => {
    const dev = loadSettings(stackConfig("dev"), "dev");
    expect(dev.mqtt.devices).toEqual([]);
    expect(dev.mqtt.simulatedDevices).toEqual(["sim-mqtt-001", "sim-mqtt-002", "sim-mqtt-003"].map((id) => ({ id, site: dev.simulator.site })));
    expect(dev.mqtt).toMatchObject({ enabled: true, bindAddress: "127.0.0.1", port: 8883, externalNames: ["localhost", "127.0.0.1"] });
    const prod = loadSettings(stackConfig("prod"), "prod");
    expect(prod.mqtt).toMatchObject({ devices: [], simulatedDevices: [], enabled: false });
    expect(prod.warnings).toEqual([]);
  });

  test("an entry is an id or { id, site }; the site defaults to simSite; the order is kept", () => {
    const s = loadSettings(stackConfig("prod", { devices: ["greenhouse-01", { id: "pump-7", site: "plant-2" }, "0a"] }), "prod");
    expect(s.mqtt.devices).toEqual([
      { id: "greenhouse-01", site: "site-1" },
      { id: "pump-7", site: "plant-2" },
      { id: "0a", site: "site-1" },
    ]);
    expect(s.mqtt.enabled).toBe(true);
    expect(loadSettings(stackConfig("prod", { devices: ["a"], simSite: "plant-9" }), "prod").mqtt.devices).toEqual([{ id: "a", site: "plant-9" }]);
  });

  test("ids of 1 and 63 characters are accepted; exactly the maximum count with the simulated ones is accepted", () => {
    expect(loadSettings(stackConfig("prod", { devices: ["a", "b".repeat(63)] }), "prod").mqtt.devices.map((d) => d.id)).toEqual(["a", "b".repeat(63)]);
    expect(loadSettings(stackConfig("dev", { devices: many(997), simMqttDevices: 3 }), "dev").mqtt.devices).toHaveLength(997);
  });

  test("broker and bridge limits come from their own settings", () => {
    const s = loadSettings(stackConfig("dev", { brokerMemoryMb: 96, brokerCpuMillis: 250, bridgeMemoryMb: 320, bridgeCpuMillis: 1000 }), "dev");
    expect(s.mqtt.brokerLimits).toEqual({ memoryMb: 96, cpuMillis: 250 });
    expect(s.mqtt.bridgeLimits).toEqual({ memoryMb: 320, cpuMillis: 1000 });
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["not a list", { devices: "greenhouse-01" }, /devices must be a list of device ids or \{ id, site \} entries, e\.g\. \["greenhouse-01"/],
    ["an object instead of a list", { devices: { id: "a" } }, /devices must be a list of device ids/],
    ["an entry that is neither id nor object", { devices: ["a", 7] }, /devices\[1\] must be a device id or an \{ id, site \} entry/],
    ["upper case", { devices: ["Greenhouse-01"] }, /devices\[0\]: "Greenhouse-01" is not a device id: 1-63 characters a-z 0-9 - starting with a letter or digit/],
    ["a character MQTT topics reserve", { devices: ["a/b"] }, /devices\[0\]: "a\/b" is not a device id/],
    ["a wildcard", { devices: ["ok", "a+"] }, /devices\[1\]: "a\+" is not a device id/],
    ["an underscore", { devices: ["pump_7"] }, /devices\[0\]: "pump_7" is not a device id/],
    ["a leading dash", { devices: ["-pump"] }, /devices\[0\]: "-pump" is not a device id/],
    ["empty", { devices: [""] }, /devices\[0\]: "" is not a device id/],
    ["64 characters", { devices: ["a".repeat(64)] }, new RegExp(`devices\\[0\\]: "${"a".repeat(64)}" is not a device id: 1-63 characters`)],
    ["an entry without id", { devices: [{ site: "plant-2" }] }, /devices\[0\]: undefined is not a device id/],
    ["a duplicate", { devices: ["pump-7", "tank-1", "pump-7"] }, /devices\[2\]: "pump-7" is declared twice/],
    ["a duplicate across forms", { devices: ["pump-7", { id: "pump-7", site: "plant-2" }] }, /devices\[1\]: "pump-7" is declared twice/],
    ["unknown keys", { devices: [{ id: "pump-7", name: "Pump", topic: "x" }] }, /devices\[0\] has unknown keys name, topic: an entry has only id and site/],
    ["a bad site", { devices: [{ id: "pump-7", site: "plant 2" }] }, /devices\[0\]: site "plant 2" must be 1-64 characters A-Z a-z 0-9 _ - starting with a letter or digit/],
    ["a site with a topic wildcard", { devices: [{ id: "pump-7", site: "#" }] }, /devices\[0\]: site "#" must be 1-64 characters/],
    ["a site that is not a string", { devices: [{ id: "pump-7", site: 7 }] }, /devices\[0\]: site 7 must be 1-64 characters/],
    ["more than the maximum with the simulated ones", { devices: many(998), simMqttDevices: 3 }, /devices \(998\) and simMqttDevices \(3\) declare 1001 MQTT devices; at most 1000/],
    ["too many simulated devices", { simMqttDevices: 101 }, /simMqttDevices must be an integer from 0 to 100/],
    ["negative simulated devices", { simMqttDevices: -1 }, /simMqttDevices must be an integer from 0 to 100/],
    ["devices with TLS off", { tlsEnabled: false, allowPlaintext: true, simMqttDevices: 0, devices: ["pump-7"] }, /devices and simMqttDevices need tlsEnabled=true: devices are identified by certificates of the stack CA/],
    ["simulated devices with TLS off", { tlsEnabled: false, allowPlaintext: true, simMqttDevices: 1 }, /devices and simMqttDevices need tlsEnabled=true/],
    ["the MQTT port on Grafana's", { mqttPort: 3000 }, /mqttPort and grafanaPort must differ when both are published on the same address/],
    ["the MQTT port on Grafana's, MQTT on every address", { mqttPort: 3000, mqttBindAddress: "0.0.0.0" }, /mqttPort and grafanaPort must differ/],
    ["the MQTT port on Grafana's, Grafana on every address", { mqttPort: 3000, mqttBindAddress: "192.0.2.10", grafanaBindAddress: "0.0.0.0" }, /mqttPort and grafanaPort must differ/],
    ["the MQTT port on InfluxDB's published one", { influxPublishPort: true, influxHostPort: 8883 }, /mqttPort and influxHostPort must differ when influxPublishPort is true/],
    ["a privileged MQTT port", { mqttPort: 883 }, /mqttPort must be an integer from 1024 to 65535/],
    ["a bind address that is a name", { mqttBindAddress: "localhost" }, /mqttBindAddress must be an IPv4 address such as 127\.0\.0\.1/],
    ["external names that are neither", { mqttExternalNames: ["broker.example", "not a host"] }, /mqttExternalNames has entries that are neither host names nor IP addresses: not a host/],
    ["broker memory below its minimum", { brokerMemoryMb: 16 }, /brokerMemoryMb must be an integer from 32 to 65536/],
    ["bridge cpu below its minimum", { bridgeCpuMillis: 50 }, /bridgeCpuMillis must be an integer from 100 to 64000/],
  ];

  test.each(cases)("rejected: %s", (_name, overrides, message) => {
    expect(failure(stackConfig("dev", overrides))).toMatch(message);
  });

  test.each(["bridge", "broker", "broker-health", "influxdb", "grafana", "simulator", "sim-mqtt-001", "sim-anything", "dev-000001", "dev-7"])("rejected: the reserved id %s", (id) => {
    expect(failure(stackConfig("dev", { devices: ["pump-7", id] }))).toMatch(
      new RegExp(`devices\\[1\\]: "${id}" is reserved: bridge, broker, broker-health, influxdb, grafana, simulator are the stack's own identities, and ids starting with "sim-" or of the form dev-<digits> are the simulator's`),
    );
  });

  test("every bad entry is named at once", () => {
    const message = failure(stackConfig("dev", { devices: ["Bad", "bridge", "ok", "ok"] }));
    expect(message).toMatch(/devices\[0\]: "Bad" is not a device id/);
    expect(message).toMatch(/devices\[1\]: "bridge" is reserved/);
    expect(message).toMatch(/devices\[3\]: "ok" is declared twice/);
  });

  test("port clashes matter only when the broker is deployed, and not across different addresses", () => {
    expect(loadSettings(stackConfig("dev", { simMqttDevices: 0, mqttPort: 3000 }), "dev").mqtt.enabled).toBe(false);
    expect(loadSettings(stackConfig("dev", { mqttPort: 3000, mqttBindAddress: "192.0.2.10" }), "dev").mqtt.port).toBe(3000);
    expect(loadSettings(stackConfig("dev", { influxPublishPort: true, influxHostPort: 8883, mqttBindAddress: "192.0.2.10" }), "dev").mqtt.port).toBe(8883);
  });

  test("a broker published beyond loopback is accepted with a warning; without devices there is no broker and no warning", () => {
    const s = loadSettings(stackConfig("dev", { mqttBindAddress: "192.0.2.10", mqttPort: 18883, mqttExternalNames: ["192.0.2.10"] }), "dev");
    expect(s.warnings).toEqual([
      "The MQTT broker is published on 192.0.2.10:18883, reachable from that network: only devices with a certificate of this stack can connect, but make sure a firewall limits who can reach it.",
    ]);
    // a LAN address devices cannot verify the broker by, and that their bundles would not name
    expect(loadSettings(stackConfig("dev", { mqttBindAddress: "192.0.2.10" }), "dev").warnings).toContain(
      "mqttBindAddress 192.0.2.10 is not in mqttExternalNames: devices that connect by that address cannot verify the broker's certificate, and device bundles name localhost; add it to mqttExternalNames (first, for the bundles to name it).",
    );
    expect(loadSettings(stackConfig("dev", { mqttBindAddress: "0.0.0.0" }), "dev").warnings.join("\n")).not.toMatch(/is not in mqttExternalNames/);
    expect(loadSettings(stackConfig("dev", { mqttBindAddress: "0.0.0.0" }), "dev").warnings.join("\n")).toMatch(/The MQTT broker is published on 0\.0\.0\.0:8883/);
    expect(loadSettings(stackConfig("dev", { mqttBindAddress: "127.0.0.2" }), "dev").warnings).toEqual([]);
    expect(loadSettings(stackConfig("dev", { simMqttDevices: 0, mqttBindAddress: "192.0.2.10" }), "dev").warnings).toEqual([]);
  });

  test("external names are deduplicated, in the order given (the first is the host devices are told)", () => {
    const s = loadSettings(stackConfig("dev", { mqttExternalNames: ["broker.site-1.example", "192.0.2.10", "broker.site-1.example"] }), "dev");
    expect(s.mqtt.externalNames).toEqual(["broker.site-1.example", "192.0.2.10"]);
  });
});

describe("stack files are read as the Pulumi CLI reads them", () => {
  /** A project folder with the real Pulumi.yaml and the given stack files. */
  const projectWith = (stackFiles: Record<string, string>): string => {
    const root = mkdtempSync(join(tmpdir(), "stack-config-"));
    copyFileSync(join(ROOT, "Pulumi.yaml"), join(root, "Pulumi.yaml"));
    for (const [stack, text] of Object.entries(stackFiles)) writeFileSync(join(root, `Pulumi.${stack}.yaml`), text);
    return root;
  };
  const readFailure = (root: string, stack: string): string => {
    try {
      readStackConfig(root, stack);
    } catch (error) {
      expect(error).toBeInstanceOf(StackConfigError);
      return (error as Error).message;
    }
    throw new Error("expected the stack files to be refused");
  };

  // Pulumi rewrites a key without ":" to "<project>:<key>" (stackConfigNamespacedWithProject), so the program sees it
  test("a key without the project's prefix is the project's key, and the program gets its value", () => {
    const root = projectWith({ site: "config:\n  simDevices: 7\n  secure-iot:config:simSite: old-form\n  docker:host: ssh://admin@edge-01\n" });
    const config = readStackConfig(root, "site");
    expect(config["secure-iot:simDevices"]).toBe("7");
    expect(config["secure-iot:simSite"]).toBe("old-form");
    expect(config).not.toHaveProperty("simDevices");
    const settings = loadSettings(config, "site");
    expect(settings.simulator.devices).toBe(7);
    expect(settings.simulator.site).toBe("old-form");
    expect(settings.dockerHost).toBe("ssh://admin@edge-01");
  });

  test("one key set twice, with and without the prefix, is refused: Pulumi would keep either", () => {
    const root = projectWith({ site: "config:\n  simDevices: 7\n  secure-iot:simDevices: 9\n" });
    expect(readFailure(root, "site")).toBe(`${join(root, "Pulumi.site.yaml")} sets secure-iot:simDevices twice, as "simDevices" and as "secure-iot:simDevices": keep one`);
  });

  test("a key Pulumi cannot parse is refused", () => {
    const root = projectWith({ site: "config:\n  secure-iot:sim:devices: 7\n" });
    expect(readFailure(root, "site")).toMatch(/Pulumi\.site\.yaml: "secure-iot:sim:devices" is not a configuration key; Pulumi accepts <name> \(this project's\) or <namespace>:<name>/);
  });

  test("a key without a value is an empty string, as in Pulumi", () => {
    const root = projectWith({ site: "config:\n  secure-iot:alertWebhookUrl:\n" });
    expect(readStackConfig(root, "site")["secure-iot:alertWebhookUrl"]).toBe("");
  });

  test("a stack without a file: one line that names the file and lists the stacks there are", () => {
    const root = projectWith({ dev: "config: {}\n", prod: "config: {}\n" });
    expect(stackNames(root)).toEqual(["dev", "prod"]);
    const message = readFailure(root, "prd");
    expect(message).toBe(`there is no stack "prd": ${join(root, "Pulumi.prd.yaml")} does not exist; stacks with a Pulumi.<stack>.yaml file: dev, prod`);
  });

  test("a stack name that is not one (a path) is refused before any file is read", () => {
    const root = projectWith({ dev: "config: {}\n" });
    expect(readFailure(root, "../dev")).toMatch(/^"\.\.\/dev" is not a stack name \(letters, digits, _ \. - only\); stacks in .*: dev$/);
  });

  test.each([
    ["a mis-indented key", "config:\n  secure-iot:simDevices: 7\n secure-iot:simSite: x\n", ":3:1: All mapping items must start at the same column;"],
    ["a tab", "config:\n\tsecure-iot:simDevices: 7\n", ":2:1: Tabs are not allowed as indentation;"],
    ["a key set twice", "config:\n  secure-iot:simDevices: 7\n  secure-iot:simDevices: 8\n", ":3:3: Map keys must be unique;"],
  ])("YAML error (%s): one line with the file, line and column", (_name, text, where) => {
    const root = projectWith({ site: text });
    const message = readFailure(root, "site");
    expect(message).toBe(`${join(root, "Pulumi.site.yaml")}${where} fix the YAML there (keys under config: indented alike with spaces, no tabs, each key once)`);
  });

  test("config: that is not a mapping", () => {
    const root = projectWith({ site: "config:\n  - simDevices\n" });
    expect(readFailure(root, "site")).toMatch(/Pulumi\.site\.yaml: config: must be a mapping of key: value lines/);
  });

  test("an encrypted value is refused unless the caller gives a stand-in", () => {
    const root = projectWith({ site: "config:\n  secure-iot:grafanaAdminPassword:\n    secure: AAABAKz0\n" });
    expect(readFailure(root, "site")).toMatch(/secure-iot:grafanaAdminPassword is encrypted \(secure:\)/);
    expect(readStackConfig(root, "site", { secretPlaceholder: "stand-in-for-a-secret" })["secure-iot:grafanaAdminPassword"]).toBe("stand-in-for-a-secret");
  });
});
