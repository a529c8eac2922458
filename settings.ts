// Turns the stack's raw configuration into one typed, validated Settings object.
// Pure: it reads nothing itself, so it is tested directly, and index.ts calls it once before
// any resource is created. Every problem names the key and what is allowed.
import { readFileSync } from "node:fs";
import { isIPv4, isIP } from "node:net";
import { z } from "zod";
import { cpusRoundTrip, cpusValue } from "./components/provider-values";

export const PROJECT = "secure-iot";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export interface Limits {
  memoryMb: number;
  cpuMillis: number;
}

export interface ContainerPolicy {
  restartPolicy: "on-failure" | "unless-stopped";
  restartMaxRetries: number;
  logMaxSize: string;
  logMaxFiles: number;
  startupTimeoutSeconds: number;
}

export interface Settings {
  stack: string;
  /** prefix of every Docker object name, so several stacks can share one Docker host */
  namePrefix: string;
  tls: {
    enabled: boolean;
    minVersion: "1.2" | "1.3";
    validityHours: number;
    earlyRenewalHours: number;
    grafanaExternalNames: string[];
  };
  influx: {
    org: string;
    bucket: string;
    retention: string;
    adminUser: string;
    /** a chosen password (secret) or undefined to generate one */
    adminPassword?: string;
    publishPort: boolean;
    hostPort: number;
    limits: Limits;
  };
  grafana: {
    bindAddress: string;
    port: number;
    adminUser: string;
    adminPassword?: string;
    limits: Limits;
  };
  simulator: {
    devices: number;
    intervalMs: number;
    site: string;
    seed: number;
    logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
    limits: Limits;
    /** PEM of extra CAs npm trusts during the image build (buildCaCertsFile), if any */
    buildCaCerts?: string;
  };
  /** real devices over MQTT and the simulator's MQTT devices; no broker or bridge when both lists are empty */
  mqtt: MqttSettings;
  /** the Docker host's platform: what the simulator is built for and which images are pulled */
  platform: Platform;
  containers: ContainerPolicy;
  protectData: boolean;
  /** Grafana's provisioned alert rules and their optional contact point */
  alerts: AlertSettings;
  dockerHost?: string;
  /** notes for the operator, printed as Pulumi warnings */
  warnings: string[];
}

export interface DeviceEntry {
  id: string;
  site: string;
}

export interface MqttSettings {
  /** the devices declared in `devices`, in the order given */
  devices: DeviceEntry[];
  /** the simulator's MQTT-mode devices, sim-mqtt-001 …, at simSite */
  simulatedDevices: DeviceEntry[];
  /** true when anything is declared: then the broker and the bridge are deployed */
  enabled: boolean;
  bindAddress: string;
  port: number;
  /** host names and addresses devices use to reach the broker; they go into its certificate */
  externalNames: string[];
  brokerLimits: Limits;
  bridgeLimits: Limits;
}

/** A device id: safe in an MQTT topic level, a file name, a tag value and a certificate CN. */
export const DEVICE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Identities of the stack's own MQTT clients and services, which no device may take. */
export const RESERVED_DEVICE_IDS = ["bridge", "broker", "broker-health", "influxdb", "grafana", "simulator"] as const;
/** Prefix of the simulator's MQTT devices (simMqttDevices): sim-mqtt-001 … */
export const SIMULATED_DEVICE_PREFIX = "sim-";
/** The HTTPS simulator's device names (dev-000001 …, simulator/src/fleet.ts): a declared device so named would share their series. */
const HTTPS_SIMULATED_DEVICE = /^dev-\d+$/;
/**
 * At most this many MQTT identities (devices plus simMqttDevices). Each is a key, a CSR and a
 * certificate in the Pulumi state and a line pair in the broker's ACL; the bridge and the broker
 * were measured up to this count (docs/PERFORMANCE.md).
 */
export const MAX_MQTT_DEVICES = 1000;

export function simulatedDeviceIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${SIMULATED_DEVICE_PREFIX}mqtt-${String(i + 1).padStart(3, "0")}`);
}

export interface AlertSettings {
  /** a device is silent after this many reporting intervals without a point */
  silentIntervals: number;
  /** a reading outside its range for this long fires */
  outOfRangeMinutes: number;
  temperatureC: { min: number; max: number };
  humidityPct: { min: number; max: number };
  /** battery below this fires */
  batteryMinPct: number;
  /** more points dropped by the simulator than this within the rule's window fires */
  droppedPointsMax: number;
  /** webhook contact point (secret; may carry a token); undefined: rules evaluate, nobody is notified */
  webhookUrl?: string;
}

// --- value parsers: each takes the raw config string and reports in terms of the key -----------

function int(key: string, min: number, max: number) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v) => /^-?\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max, {
      message: `${key} must be an integer from ${min} to ${max}`,
    })
    .transform(Number);
}

function bool(key: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v) => v === "true" || v === "false", { message: `${key} must be true or false` })
    .transform((v) => v === "true");
}

function oneOf<T extends string>(key: string, values: readonly T[]) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v): v is T => (values as readonly string[]).includes(v), { message: `${key} must be one of ${values.join(", ")}` })
    .transform((v) => v as T);
}

function name(key: string, what: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v), {
      message: `${key} must be a ${what} of 1-64 characters A-Z a-z 0-9 _ . - starting with a letter or digit`,
    });
}

/**
 * A bucket name: like name(), without "." — Grafana's InfluxDB datasource replaces its Flux macros
 * (v.timeRangeStart, v.windowPeriod, ...) by a pattern without a word boundary, so a bucket such as
 * "dev.windowPeriod" or "sensorsv.timeRangeStart" would be rewritten inside the query.
 */
function bucketName(key: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(v), {
      message: `${key} must be a name of 1-64 characters A-Z a-z 0-9 _ - starting with a letter or digit (no ".": Grafana's query macros would rewrite it)`,
    });
}

/** A CPU limit in millicores that the Docker provider reads back unchanged (components/provider-values.ts). */
function cpuMillis(key: string, min: number, max: number) {
  return int(key, min, max).refine((v) => cpusRoundTrip(v), {
    error: (issue) =>
      `${key}=${issue.input} cannot be set exactly: Docker's provider reads it back as ${cpusValue(issue.input as number)} cores and would replace the container at every update; use a value such as ${Math.round((issue.input as number) / 100) * 100}`,
  });
}

export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

const RETENTION = /^(\d+)(h|d|w)$/;
const HOURS = { h: 1, d: 24, w: 168 } as const;

function retention(key: string) {
  return z.string({ message: `${key} is missing (Pulumi.yaml declares its default)` }).refine(
    (v) => {
      const m = RETENTION.exec(v);
      if (!m) return false;
      const hours = Number(m[1]) * HOURS[m[2] as keyof typeof HOURS];
      return hours >= 1 && hours <= 1000 * 8760;
    },
    { message: `${key} must be a duration of at least 1h with one unit h, d or w, such as 72h, 30d or 52w` },
  );
}

const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function hostList(key: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .transform((v, ctx) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || parsed.length === 0 || parsed.some((x) => typeof x !== "string")) {
        ctx.addIssue({ code: "custom", message: `${key} must be a non-empty list of host names or IP addresses` });
        return z.NEVER;
      }
      const bad = (parsed as string[]).filter((h) => !isIP(h) && !DNS_NAME.test(h));
      if (bad.length > 0) {
        ctx.addIssue({ code: "custom", message: `${key} has entries that are neither host names nor IP addresses: ${bad.join(", ")}` });
        return z.NEVER;
      }
      return parsed as string[];
    });
}

/**
 * The `devices` list: each entry a device id, or { id, site } (site defaults to simSite, filled in
 * by loadSettings). Every problem names the entry.
 */
function deviceList(key: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .transform((v, ctx) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed)) {
        ctx.addIssue({ code: "custom", message: `${key} must be a list of device ids or { id, site } entries, e.g. ["greenhouse-01", { "id": "pump-7", "site": "plant-2" }]` });
        return z.NEVER;
      }
      const entries: { id: string; site?: string }[] = [];
      const seen = new Set<string>();
      parsed.forEach((entry: unknown, index) => {
        const where = `${key}[${index}]`;
        const raw = typeof entry === "string" ? { id: entry } : entry;
        if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
          ctx.addIssue({ code: "custom", message: `${where} must be a device id or an { id, site } entry` });
          return;
        }
        const { id, site, ...rest } = raw as Record<string, unknown>;
        const extra = Object.keys(rest);
        if (extra.length > 0) ctx.addIssue({ code: "custom", message: `${where} has unknown keys ${extra.join(", ")}: an entry has only id and site` });
        if (typeof id !== "string" || !DEVICE_ID.test(id)) {
          ctx.addIssue({ code: "custom", message: `${where}: ${JSON.stringify(id)} is not a device id: 1-63 characters a-z 0-9 - starting with a letter or digit` });
          return;
        }
        if ((RESERVED_DEVICE_IDS as readonly string[]).includes(id) || id.startsWith(SIMULATED_DEVICE_PREFIX) || HTTPS_SIMULATED_DEVICE.test(id)) {
          ctx.addIssue({
            code: "custom",
            message: `${where}: "${id}" is reserved: ${RESERVED_DEVICE_IDS.join(", ")} are the stack's own identities, and ids starting with "${SIMULATED_DEVICE_PREFIX}" or of the form dev-<digits> are the simulator's`,
          });
          return;
        }
        if (seen.has(id)) ctx.addIssue({ code: "custom", message: `${where}: "${id}" is declared twice` });
        seen.add(id);
        if (site !== undefined && (typeof site !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(site))) {
          ctx.addIssue({ code: "custom", message: `${where}: site ${JSON.stringify(site)} must be 1-64 characters A-Z a-z 0-9 _ - starting with a letter or digit` });
          return;
        }
        entries.push({ id, site: site as string | undefined });
      });
      return entries;
    });
}

function sizeWithUnit(key: string) {
  return z
    .string({ message: `${key} is missing (Pulumi.yaml declares its default)` })
    .refine((v) => /^[1-9]\d*[kmg]$/.test(v), { message: `${key} must be a size such as 500k, 10m or 1g` });
}

function optionalSecret(key: string) {
  return z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || v.length >= 16, {
      message: `${key} must be at least 16 characters (or empty to generate one)`,
    })
    .transform((v) => (v ? v : undefined));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/**
 * A webhook URL, or empty for none. It reaches Grafana through a provisioning file in which
 * Grafana expands environment variables (pkg/services/provisioning/values), so a "$" would be
 * rewritten: refused rather than silently changed.
 */
function webhookUrl(key: string) {
  return z.string({ message: `${key} is missing (Pulumi.yaml declares its default)` }).refine(
    (v) => {
      if (v === "") return true;
      try {
        const url = new URL(v);
        return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "" && !v.includes("$");
      } catch {
        return false;
      }
    },
    { message: `${key} must be empty (no contact point) or an https:// URL without "$", set with \`pulumi config set --secret ${key} …\`` },
  );
}

/** The limits of a silent-device window (alertSilentIntervals × simIntervalMs), in milliseconds. */
export const SILENT_WINDOW_MS = {
  // Points reach InfluxDB up to about a second after their timestamp (the simulator's flush
  // interval), more while it retries: a shorter window would call healthy devices silent.
  min: 5_000,
  // The silent-device rule looks back over four windows (at least an hour, dashboards/alerts.ts):
  // longer windows would have it scan days of data every minute.
  max: 86_400_000,
} as const;

/** The program's keys (without the project prefix); a test keeps them equal to Pulumi.yaml's. */
export const schema = z.object({
  tlsEnabled: bool("tlsEnabled"),
  allowPlaintext: bool("allowPlaintext"),
  tlsMinVersion: oneOf("tlsMinVersion", ["1.2", "1.3"] as const),
  certValidityHours: int("certValidityHours", 24, 87_600),
  certEarlyRenewalHours: int("certEarlyRenewalHours", 1, 87_600),
  grafanaExternalNames: hostList("grafanaExternalNames"),
  influxOrg: name("influxOrg", "name"),
  influxBucket: bucketName("influxBucket"),
  influxRetention: retention("influxRetention"),
  influxAdminUser: name("influxAdminUser", "user name"),
  influxAdminPassword: optionalSecret("influxAdminPassword").refine((v) => v === undefined || !v.startsWith("-"), {
    // InfluxDB's entrypoint passes it to `influx setup --password`, whose parser takes a leading "-" for a flag.
    message: "influxAdminPassword must not start with \"-\" (InfluxDB's setup would read it as a command-line flag)",
  }),
  influxPublishPort: bool("influxPublishPort"),
  influxHostPort: int("influxHostPort", 1024, 65_535),
  influxMemoryMb: int("influxMemoryMb", 256, 65_536),
  influxCpuMillis: cpuMillis("influxCpuMillis", 100, 64_000),
  grafanaBindAddress: z
    .string({ message: "grafanaBindAddress is missing (Pulumi.yaml declares its default)" })
    .refine((v) => isIPv4(v), { message: "grafanaBindAddress must be an IPv4 address such as 127.0.0.1" }),
  grafanaPort: int("grafanaPort", 1024, 65_535),
  grafanaAdminUser: name("grafanaAdminUser", "user name"),
  grafanaAdminPassword: optionalSecret("grafanaAdminPassword"),
  grafanaMemoryMb: int("grafanaMemoryMb", 128, 65_536),
  grafanaCpuMillis: cpuMillis("grafanaCpuMillis", 100, 64_000),
  simDevices: int("simDevices", 1, 100_000),
  simIntervalMs: int("simIntervalMs", 100, 3_600_000),
  simSite: name("simSite", "site name"),
  simSeed: int("simSeed", 0, 4_294_967_295),
  simLogLevel: oneOf("simLogLevel", LOG_LEVELS),
  simMemoryMb: int("simMemoryMb", 64, 65_536),
  simCpuMillis: cpuMillis("simCpuMillis", 100, 64_000),
  devices: deviceList("devices"),
  simMqttDevices: int("simMqttDevices", 0, 100),
  mqttBindAddress: z
    .string({ message: "mqttBindAddress is missing (Pulumi.yaml declares its default)" })
    .refine((v) => isIPv4(v), { message: "mqttBindAddress must be an IPv4 address such as 127.0.0.1" }),
  mqttPort: int("mqttPort", 1024, 65_535),
  mqttExternalNames: hostList("mqttExternalNames"),
  brokerMemoryMb: int("brokerMemoryMb", 32, 65_536),
  brokerCpuMillis: cpuMillis("brokerCpuMillis", 100, 64_000),
  bridgeMemoryMb: int("bridgeMemoryMb", 64, 65_536),
  bridgeCpuMillis: cpuMillis("bridgeCpuMillis", 100, 64_000),
  restartPolicy: oneOf("restartPolicy", ["on-failure", "unless-stopped"] as const),
  restartMaxRetries: int("restartMaxRetries", 1, 100),
  logMaxSize: sizeWithUnit("logMaxSize"),
  logMaxFiles: int("logMaxFiles", 1, 100),
  protectData: bool("protectData"),
  startupTimeoutSeconds: int("startupTimeoutSeconds", 30, 1800),
  dockerPlatform: oneOf("dockerPlatform", PLATFORMS),
  buildCaCertsFile: z.string({ message: "buildCaCertsFile is missing (Pulumi.yaml declares its default)" }),
  alertSilentIntervals: int("alertSilentIntervals", 2, 1000),
  alertOutOfRangeMinutes: int("alertOutOfRangeMinutes", 1, 1440),
  alertTemperatureMinC: int("alertTemperatureMinC", -100, 200),
  alertTemperatureMaxC: int("alertTemperatureMaxC", -100, 200),
  alertHumidityMinPct: int("alertHumidityMinPct", 0, 100),
  alertHumidityMaxPct: int("alertHumidityMaxPct", 0, 100),
  alertBatteryMinPct: int("alertBatteryMinPct", 1, 99),
  alertDroppedPointsMax: int("alertDroppedPointsMax", 0, 1_000_000_000),
  alertWebhookUrl: webhookUrl("alertWebhookUrl"),
});

export const CONFIG_KEYS = Object.keys(schema.shape);

const DOCKER_HOST = /^(unix|tcp|ssh|npipe):\/\/.+/;

/** Largest CA bundle passed to the image build: it travels as a build argument in the API request. */
const MAX_BUILD_CA_BYTES = 512 * 1024;

/**
 * Validates the whole configuration of a stack.
 * @param raw every config value of the stack as the engine passes it: "project:key" to string
 * @param readFile reads a file the configuration names (buildCaCertsFile); injected for tests
 */
export function loadSettings(
  raw: Record<string, string>,
  stack: string,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): Settings {
  const problems: string[] = [];
  const warnings: string[] = [];
  const ours: Record<string, string> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    const [namespace, key] = splitKey(fullKey);
    if (namespace === PROJECT) {
      if (CONFIG_KEYS.includes(key)) ours[key] = value;
      else problems.push(unknownSetting(key));
    } else if (!READ_NAMESPACES.includes(namespace)) {
      const meant = closest(namespace, READ_NAMESPACES);
      if (meant !== undefined) {
        problems.push(`${fullKey}: nothing reads the namespace "${namespace}"; did you mean ${meant}:${key}?`);
      } else {
        warnings.push(`${fullKey} has no effect: this program and its providers read only the namespaces ${READ_NAMESPACES.join(", ")}`);
      }
    }
  }

  const parsed = schema.safeParse(ours);
  if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => issue.message));

  const dockerHost = raw["docker:host"];
  if (dockerHost !== undefined && !DOCKER_HOST.test(dockerHost)) {
    problems.push("docker:host must be a unix://, tcp://, ssh:// or npipe:// address, e.g. ssh://admin@edge-01");
  }
  if (!/^[a-z0-9][a-z0-9_.-]{0,39}$/.test(stack)) {
    problems.push(`the stack name "${stack}" must be 1-40 characters a-z 0-9 _ . - (it prefixes Docker object names)`);
  }

  if (parsed.success) {
    const c = parsed.data;
    if (!c.tlsEnabled && !c.allowPlaintext) {
      problems.push("tlsEnabled=false needs the explicit opt-out allowPlaintext=true: without TLS, readings, tokens and passwords travel unencrypted");
    }
    if (c.certEarlyRenewalHours >= c.certValidityHours) {
      problems.push("certEarlyRenewalHours must be less than certValidityHours");
    }
    if (c.influxPublishPort && c.influxHostPort === c.grafanaPort) {
      problems.push("influxHostPort and grafanaPort must differ when influxPublishPort is true");
    }
    if (!c.tlsEnabled) warnings.push("TLS is OFF (tlsEnabled=false): readings, tokens and passwords travel in clear text on the Docker networks and to the browser.");
    if (!c.grafanaBindAddress.startsWith("127.")) {
      warnings.push(`Grafana is published on ${c.grafanaBindAddress}:${c.grafanaPort}, reachable from outside this host; make sure a firewall limits who can reach it.`);
    }
    if (c.influxPublishPort) warnings.push(`InfluxDB's API is published on 127.0.0.1:${c.influxHostPort} (influxPublishPort=true).`);
    problems.push(...alertProblems(c), ...mqttProblems(c));
    const mqttEnabled = c.devices.length + c.simMqttDevices > 0;
    if (mqttEnabled && !c.mqttBindAddress.startsWith("127.")) {
      warnings.push(`The MQTT broker is published on ${c.mqttBindAddress}:${c.mqttPort}, reachable from that network: only devices with a certificate of this stack can connect, but make sure a firewall limits who can reach it.`);
      if (c.mqttBindAddress !== "0.0.0.0" && !c.mqttExternalNames.includes(c.mqttBindAddress)) {
        warnings.push(
          `mqttBindAddress ${c.mqttBindAddress} is not in mqttExternalNames: devices that connect by that address cannot verify the broker's certificate, and device bundles name ${c.mqttExternalNames[0]}; add it to mqttExternalNames (first, for the bundles to name it).`,
        );
      }
    }
    if (c.alertWebhookUrl.startsWith("http:")) {
      if (!c.allowPlaintext) problems.push("alertWebhookUrl must be an https:// URL (http:// needs the explicit opt-out allowPlaintext=true)");
      else warnings.push("alertWebhookUrl is plain http://: alert notifications, and any token in the URL, travel unencrypted.");
    }
  }
  const buildCaCerts = parsed.success && parsed.data.buildCaCertsFile !== "" ? readCaBundle(parsed.data.buildCaCertsFile, readFile, problems) : undefined;

  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const c = parsed.data;
  const externalNames = [...new Set(c.grafanaExternalNames)];

  return {
    stack,
    namePrefix: `iot-${stack}`,
    tls: {
      enabled: c.tlsEnabled,
      minVersion: c.tlsMinVersion,
      validityHours: c.certValidityHours,
      earlyRenewalHours: c.certEarlyRenewalHours,
      grafanaExternalNames: externalNames,
    },
    influx: {
      org: c.influxOrg,
      bucket: c.influxBucket,
      retention: c.influxRetention,
      adminUser: c.influxAdminUser,
      adminPassword: c.influxAdminPassword,
      publishPort: c.influxPublishPort,
      hostPort: c.influxHostPort,
      limits: { memoryMb: c.influxMemoryMb, cpuMillis: c.influxCpuMillis },
    },
    grafana: {
      bindAddress: c.grafanaBindAddress,
      port: c.grafanaPort,
      adminUser: c.grafanaAdminUser,
      adminPassword: c.grafanaAdminPassword,
      limits: { memoryMb: c.grafanaMemoryMb, cpuMillis: c.grafanaCpuMillis },
    },
    simulator: {
      devices: c.simDevices,
      intervalMs: c.simIntervalMs,
      site: c.simSite,
      seed: c.simSeed,
      logLevel: c.simLogLevel,
      limits: { memoryMb: c.simMemoryMb, cpuMillis: c.simCpuMillis },
      buildCaCerts,
    },
    mqtt: mqttSettings(c),
    platform: c.dockerPlatform,
    containers: {
      restartPolicy: c.restartPolicy,
      restartMaxRetries: c.restartMaxRetries,
      logMaxSize: c.logMaxSize,
      logMaxFiles: c.logMaxFiles,
      startupTimeoutSeconds: c.startupTimeoutSeconds,
    },
    protectData: c.protectData,
    alerts: {
      silentIntervals: c.alertSilentIntervals,
      outOfRangeMinutes: c.alertOutOfRangeMinutes,
      temperatureC: { min: c.alertTemperatureMinC, max: c.alertTemperatureMaxC },
      humidityPct: { min: c.alertHumidityMinPct, max: c.alertHumidityMaxPct },
      batteryMinPct: c.alertBatteryMinPct,
      droppedPointsMax: c.alertDroppedPointsMax,
      webhookUrl: c.alertWebhookUrl === "" ? undefined : c.alertWebhookUrl,
    },
    dockerHost,
    warnings,
  };
}

/** Rules between alert settings, each problem naming the keys involved. */
function alertProblems(c: z.infer<typeof schema>): string[] {
  const problems: string[] = [];
  if (c.alertTemperatureMinC >= c.alertTemperatureMaxC) problems.push("alertTemperatureMinC must be less than alertTemperatureMaxC");
  if (c.alertHumidityMinPct >= c.alertHumidityMaxPct) problems.push("alertHumidityMinPct must be less than alertHumidityMaxPct");
  const silentMs = c.alertSilentIntervals * c.simIntervalMs;
  if (silentMs < SILENT_WINDOW_MS.min || silentMs > SILENT_WINDOW_MS.max) {
    problems.push(
      `alertSilentIntervals × simIntervalMs must be from ${SILENT_WINDOW_MS.min} to ${SILENT_WINDOW_MS.max} ms (5 s to 24 h), not ${silentMs}: points arrive up to a second late, and the silent-device rule scans four such windows every minute`,
    );
  }
  return problems;
}

/** Rules between the MQTT settings. */
function mqttProblems(c: z.infer<typeof schema>): string[] {
  const problems: string[] = [];
  const total = c.devices.length + c.simMqttDevices;
  if (total > MAX_MQTT_DEVICES) {
    problems.push(`devices (${c.devices.length}) and simMqttDevices (${c.simMqttDevices}) declare ${total} MQTT devices; at most ${MAX_MQTT_DEVICES}`);
  }
  if (total > 0 && !c.tlsEnabled) problems.push("devices and simMqttDevices need tlsEnabled=true: devices are identified by certificates of the stack CA");
  if (total > 0 && c.mqttPort === c.grafanaPort && (c.mqttBindAddress === c.grafanaBindAddress || c.mqttBindAddress === "0.0.0.0" || c.grafanaBindAddress === "0.0.0.0")) {
    problems.push("mqttPort and grafanaPort must differ when both are published on the same address");
  }
  if (total > 0 && c.influxPublishPort && c.mqttPort === c.influxHostPort && (c.mqttBindAddress.startsWith("127.") || c.mqttBindAddress === "0.0.0.0")) {
    problems.push("mqttPort and influxHostPort must differ when influxPublishPort is true");
  }
  return problems;
}

function mqttSettings(c: z.infer<typeof schema>): MqttSettings {
  const devices = c.devices.map((d) => ({ id: d.id, site: d.site ?? c.simSite }));
  const simulatedDevices = simulatedDeviceIds(c.simMqttDevices).map((id) => ({ id, site: c.simSite }));
  return {
    devices,
    simulatedDevices,
    enabled: devices.length + simulatedDevices.length > 0,
    bindAddress: c.mqttBindAddress,
    port: c.mqttPort,
    externalNames: [...new Set(c.mqttExternalNames)],
    brokerLimits: { memoryMb: c.brokerMemoryMb, cpuMillis: c.brokerCpuMillis },
    bridgeLimits: { memoryMb: c.bridgeMemoryMb, cpuMillis: c.bridgeCpuMillis },
  };
}

/** A config key as the engine names it ("namespace:name"); a bare name is the project's, as Pulumi has it (stack-config.ts). */
function splitKey(fullKey: string): [string, string] {
  const colon = fullKey.indexOf(":");
  return colon < 0 ? [PROJECT, fullKey] : [fullKey.slice(0, colon), fullKey.slice(colon + 1)];
}

function unknownSetting(key: string): string {
  const meant = closest(key, CONFIG_KEYS);
  const hint = meant !== undefined ? `did you mean ${PROJECT}:${meant}? ` : "";
  return `${PROJECT}:${key} is not a setting of this program: ${hint}(Pulumi.yaml lists every setting with its default)`;
}

/**
 * The namespaces whose keys something reads. The engine gives every "<package>:<name>" key to
 * that package's default provider (GetPackageConfig, pulumi/pulumi pkg/resource/deploy/target.go,
 * v3.248.0, lines 45-72): docker, tls and random are the providers this program uses (docker:host is
 * also checked here); "pulumi" is the engine's reserved namespace (e.g. pulumi:disable-default-providers).
 *
 * Keys of any other namespace (aws:region) are warned about, not refused: Pulumi accepts them,
 * and a stack that imports a Pulumi ESC environment gets that environment's pulumiConfig merged
 * into its config (mergeConfig, sdk/go/common/workspace/config.go, lines 262-288), so an
 * environment shared with other projects may well bring keys this program does not use.
 * A near miss of one of these namespaces (secure-io:simDevices, dokcer:host) is refused: it is a
 * typo whose value would silently not apply.
 */
const READ_NAMESPACES = [PROJECT, "docker", "tls", "random", "pulumi"];

/**
 * The candidate nearest to `word` if it is a plausible typo of it: at most one edit for names of
 * up to four characters, two for longer ones (counting a swap of neighbours as one edit).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function readCaBundle(path: string, readFile: (path: string) => string, problems: string[]): string | undefined {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (error) {
    problems.push(`buildCaCertsFile cannot be read (${path}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return undefined;
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----") || /PRIVATE KEY-----/.test(pem)) {
    problems.push(`buildCaCertsFile must be a PEM file of CA certificates only (${path})`);
    return undefined;
  }
  if (Buffer.byteLength(pem) > MAX_BUILD_CA_BYTES) {
    problems.push(`buildCaCertsFile must be at most ${MAX_BUILD_CA_BYTES / 1024} KiB: give the proxy's CA, not a whole system bundle (${path})`);
    return undefined;
  }
  return pem;
}
