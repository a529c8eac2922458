import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseDuration } from "./duration";
import { readIdentityDir, type DeviceIdentity } from "./mqtt-identities";
import { DEFAULT_MEASUREMENT, METRICS_MEASUREMENT } from "./schema";

/** Thrown for any invalid setting; main() turns it into exit code 2. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "ConfigError";
  }
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const TRANSPORTS = ["https", "mqtt"] as const;

/** Settings of both transports. */
export interface CommonConfig {
  /** PEM bundle to trust instead of the system store (INFLUX_CA_FILE or MQTT_CA_FILE); undefined means the system store. */
  caPem?: string;
  devices: number;
  intervalMs: number;
  site: string;
  seed: number;
  measurement: string;
  backfillMs: number;
  exitAfterBackfill: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  batchSize: number;
  flushIntervalMs: number;
  /** gzip request bodies above 1000 bytes (the client's default) */
  gzip: boolean;
  bufferLines: number;
  maxInflightLines: number;
  maxLagMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  retryJitterMs: number;
  maxRetryTimeMs: number;
  requestTimeoutMs: number;
  startupTimeoutMs: number;
  shutdownTimeoutMs: number;
  healthFile: string;
  healthMaxAgeMs: number;
  /** how often the simulator writes its own counters (measurement METRICS_MEASUREMENT); 0: never */
  metricsIntervalMs: number;
  faults: { spikeRate: number; stuckRate: number; dropoutRate: number };
}

/** SIM_TRANSPORT=https (the default): line protocol to InfluxDB's write API with one token. */
export interface SimulatorConfig extends CommonConfig {
  transport: "https";
  influxUrl: URL;
  org: string;
  bucket: string;
  token: string;
}

/**
 * SIM_TRANSPORT=mqtt: each simulated device connects to the broker with its own client
 * certificate and publishes its readings to its own topic. No InfluxDB settings, no token.
 */
export interface MqttSimulatorConfig extends CommonConfig {
  transport: "mqtt";
  mqttUrl: URL;
  /** one per simulated device, sorted by id; `devices` is their number */
  identities: DeviceIdentity[];
}

export type AnyConfig = SimulatorConfig | MqttSimulatorConfig;

type Env = Record<string, string | undefined>;

/**
 * What --help says of a variable: what it accepts and, for a variable without a default value in
 * the schema, what applies when it is unset (loadConfig works those out from other settings).
 * Attached to the schema itself, so the help is made from the same figures as the validation.
 */
interface SettingHelp {
  accepts?: string;
  whenUnset?: string;
}
const HELP = z.registry<SettingHelp>();

function help<T extends z.ZodType>(schema: T, meta: SettingHelp): T {
  HELP.add(schema as z.ZodType, meta);
  return schema;
}

// Each helper turns one environment variable into a zod schema whose error message names
// the variable and what it accepts, so every problem reads the same way.
function integer(name: string, min: number, max: number) {
  const accepts = `an integer from ${min} to ${max}`;
  return help(
    z
      .string()
      .trim()
      .refine((v) => /^-?\d+$/.test(v) && Number(v) >= min && Number(v) <= max, { message: `${name} must be ${accepts}` })
      .transform(Number),
    { accepts },
  );
}

function rate(name: string) {
  const accepts = "a probability per reading from 0 to 1";
  return help(
    z
      .string()
      .trim()
      .refine((v) => v !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 && Number(v) <= 1, { message: `${name} must be ${accepts}` })
      .transform(Number),
    { accepts },
  );
}

function duration(name: string) {
  const accepts = "a duration such as 30s, 15m, 24h or 7d";
  return help(
    z
      .string()
      .refine((v) => parseDuration(v) !== undefined, { message: `${name} must be ${accepts}` })
      .transform((v) => parseDuration(v) as number),
    { accepts },
  );
}

function boolean(name: string) {
  return help(z.enum(["true", "false"], { message: `${name} must be true or false` }).transform((v) => v === "true"), { accepts: "true or false" });
}

function tagValue(name: string) {
  const accepts = "1-64 characters of A-Z a-z 0-9 _ . -";
  return help(z.string().refine((v) => TAG_SAFE.test(v), { message: `${name} must be ${accepts}` }), { accepts });
}

// Tag values are written unescaped into line protocol, so only a safe alphabet is allowed.
const TAG_SAFE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Seconds of traffic the retry buffer holds by default: the brief asks for at least five minutes. */
export const DEFAULT_BUFFER_SECONDS = 300;

const envSchema = z.object({
  SIM_TRANSPORT: z.enum(TRANSPORTS, { message: `SIM_TRANSPORT must be one of ${TRANSPORTS.join(", ")}` }).default("https"),
  // Required with SIM_TRANSPORT=https only: loadConfig checks their presence, so that the MQTT mode,
  // which has no InfluxDB token, needs none of them.
  INFLUX_URL: help(
    z.string().trim().refine(
      (v) => {
        try {
          const url = new URL(v);
          return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "";
        } catch {
          return false;
        }
      },
      { message: "INFLUX_URL must be an http:// or https:// URL such as https://influxdb:8086" },
    ),
    { accepts: "an http:// or https:// URL such as https://influxdb:8086; required with SIM_TRANSPORT=https" },
  ).optional(),
  INFLUX_ORG: help(z.string().trim(), { accepts: "the organisation's name; required with SIM_TRANSPORT=https" }).optional(),
  INFLUX_BUCKET: help(z.string().trim(), { accepts: "the bucket's name; required with SIM_TRANSPORT=https" }).optional(),
  INFLUX_TOKEN: help(z.string(), { accepts: "a token allowed to write to the bucket; this or INFLUX_TOKEN_FILE" }).optional(),
  INFLUX_TOKEN_FILE: help(z.string(), { accepts: "a file holding that token; this or INFLUX_TOKEN" }).optional(),
  INFLUX_CA_FILE: help(z.string(), { accepts: "a PEM file of the CA certificates to trust", whenUnset: "the system's CA store" }).optional(),
  MQTT_URL: help(
    z.string().trim().refine(
      (v) => {
        try {
          const url = new URL(v);
          return url.protocol === "mqtts:" && url.hostname !== "" && (url.pathname === "" || url.pathname === "/") && url.username === "" && url.password === "";
        } catch {
          return false;
        }
      },
      // No plaintext opt-out, unlike INFLUX_URL's http://: a device's identity is its TLS client
      // certificate, so without TLS it has none, and the stack's broker has no plaintext listener.
      { message: "MQTT_URL must be an mqtts:// URL such as mqtts://broker:8883 (devices authenticate with their TLS client certificate; plain mqtt:// is not supported)" },
    ),
    { accepts: "an mqtts:// URL such as mqtts://broker:8883 (port 8883 when omitted); required with SIM_TRANSPORT=mqtt" },
  ).optional(),
  MQTT_CA_FILE: help(z.string(), { accepts: "a PEM file of the CA certificates to trust for the broker (SIM_TRANSPORT=mqtt)", whenUnset: "the system's CA store" }).optional(),
  MQTT_IDENTITY_DIR: help(z.string(), {
    accepts: "a directory of <id>.crt and <id>.key (PEM) per simulated device, the ids being the file names; required with SIM_TRANSPORT=mqtt",
  }).optional(),
  SIM_DEVICES: help(integer("SIM_DEVICES", 1, 10_000_000).optional(), { whenUnset: "5; with SIM_TRANSPORT=mqtt, the number of identities in MQTT_IDENTITY_DIR" }),
  SIM_INTERVAL_MS: integer("SIM_INTERVAL_MS", 10, 3_600_000).default(5000),
  SIM_SITE: tagValue("SIM_SITE").default("site-1"),
  SIM_MEASUREMENT: help(
    tagValue("SIM_MEASUREMENT").refine((v) => v !== METRICS_MEASUREMENT, {
      message: `SIM_MEASUREMENT must not be "${METRICS_MEASUREMENT}", the measurement of the simulator's own counters`,
    }),
    { accepts: `1-64 characters of A-Z a-z 0-9 _ . -, not "${METRICS_MEASUREMENT}"` },
  ).default(DEFAULT_MEASUREMENT),
  SIM_SEED: integer("SIM_SEED", 0, 4_294_967_295).default(1),
  SIM_BACKFILL: help(duration("SIM_BACKFILL"), { accepts: "a duration such as 30s, 15m, 24h or 7d of history written first", whenUnset: "none, live readings only" }).optional(),
  SIM_EXIT_AFTER_BACKFILL: boolean("SIM_EXIT_AFTER_BACKFILL").default(false),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  // Write defaults from the ingest benchmark on the real influxd 2.9.1, one core, over TLS
  // (docs/PERFORMANCE.md, "Ingest capacity of one InfluxDB core"; npm run bench:ingest): backfills
  // of 2 M points at 1,000 / 5,000 / 10,000 lines a batch, gzip on and off, in two full runs
  // (bench/results/influxdb-ingest.json and the one before it, influxdb-ingest-earlier.json there):
  //  - 5,000 lines a batch, kept: influxd's CPU per point did not depend on the batch size beyond
  //    the run-to-run spread (gzip off, CPU-s per million points, the two runs: 1,000 lines 10.9
  //    and 11.6, 5,000 lines 11.4 and 10.5, 10,000 lines 12.3 and 11.4). Its memory follows the
  //    lines in flight: with 16 requests in flight, 5,000-line batches peaked at 742-796 MiB,
  //    under the stack's default 1,024 MiB influxMemoryMb; 10,000-line batches at 1,061-1,215 MiB.
  //  - 1 s flush, kept: a small fleet never fills a batch, so this sets its request rate; the
  //    prod stack's 500 devices at 1 Hz, one request a second, cost influxd 1 % of its core.
  //  - gzip off (was on, the client's default): it saved influxd nothing (its CPU per point
  //    changed by a factor of 1.01 and 1.06 on average in the two runs) and cost the simulator
  //    1.66 times its CPU. It only saves bandwidth: set SIM_GZIP=true for a thin link to a
  //    remote InfluxDB.
  SIM_BATCH_SIZE: integer("SIM_BATCH_SIZE", 1, 100_000).default(5000),
  SIM_FLUSH_INTERVAL_MS: integer("SIM_FLUSH_INTERVAL_MS", 10, 60_000).default(1000),
  SIM_GZIP: boolean("SIM_GZIP").default(false),
  SIM_BUFFER_LINES: help(integer("SIM_BUFFER_LINES", 1, 100_000_000).optional(), {
    whenUnset: `the larger of 2 × SIM_BATCH_SIZE and ${DEFAULT_BUFFER_SECONDS} s of readings`,
  }),
  SIM_MAX_INFLIGHT_LINES: help(integer("SIM_MAX_INFLIGHT_LINES", 1, 100_000_000).optional(), {
    whenUnset: `SIM_BUFFER_LINES + 4 × SIM_BATCH_SIZE; with SIM_TRANSPORT=mqtt, ${DEFAULT_BUFFER_SECONDS} s of readings (at least one per device)`,
  }),
  SIM_MAX_LAG_MS: help(integer("SIM_MAX_LAG_MS", 1000, 86_400_000).optional(), { whenUnset: String(DEFAULT_BUFFER_SECONDS * 1000) }),
  SIM_RETRY_MIN_MS: integer("SIM_RETRY_MIN_MS", 1, 600_000).default(1000),
  SIM_RETRY_MAX_MS: integer("SIM_RETRY_MAX_MS", 1, 3_600_000).default(30_000),
  SIM_RETRY_JITTER_MS: integer("SIM_RETRY_JITTER_MS", 0, 60_000).default(200),
  SIM_MAX_RETRY_TIME_MS: integer("SIM_MAX_RETRY_TIME_MS", 1000, 86_400_000).default(900_000),
  SIM_REQUEST_TIMEOUT_MS: integer("SIM_REQUEST_TIMEOUT_MS", 100, 600_000).default(10_000),
  SIM_STARTUP_TIMEOUT_MS: integer("SIM_STARTUP_TIMEOUT_MS", 0, 3_600_000).default(120_000),
  SIM_SHUTDOWN_TIMEOUT_MS: integer("SIM_SHUTDOWN_TIMEOUT_MS", 100, 600_000).default(8000),
  // only for a container whose stop timeout was raised above Docker's 10 s
  SIM_ALLOW_LONG_SHUTDOWN: help(boolean("SIM_ALLOW_LONG_SHUTDOWN"), { accepts: "true or false: allow SIM_SHUTDOWN_TIMEOUT_MS of 10000 or more" }).default(false),
  SIM_HEALTH_FILE: help(z.string().min(1, { message: "SIM_HEALTH_FILE must be a file path" }), { accepts: "a file path" }).default("/tmp/simulator-health.json"),
  SIM_HEALTH_MAX_AGE_MS: help(integer("SIM_HEALTH_MAX_AGE_MS", 1000, 86_400_000).optional(), { whenUnset: "the larger of 3 × SIM_INTERVAL_MS and 30000" }),
  SIM_METRICS_INTERVAL_MS: help(
    integer("SIM_METRICS_INTERVAL_MS", 0, 3_600_000).refine((v) => v === 0 || v >= 100, {
      message: "SIM_METRICS_INTERVAL_MS must be 0 (no metrics) or an integer from 100 to 3600000",
    }),
    { accepts: "0 (no metrics) or an integer from 100 to 3600000" },
  ).default(10_000),
  SIM_FAULT_SPIKE_RATE: rate("SIM_FAULT_SPIKE_RATE").default(0.001),
  SIM_FAULT_STUCK_RATE: rate("SIM_FAULT_STUCK_RATE").default(0.0005),
  SIM_FAULT_DROPOUT_RATE: rate("SIM_FAULT_DROPOUT_RATE").default(0.0005),
});


function readSecretFile(variable: string, path: string, problems: string[]): string | undefined {
  try {
    const content = readFileSync(path, "utf8").trim();
    if (content === "") problems.push(`${variable} points to an empty file (${path})`);
    return content;
  } catch (error) {
    problems.push(`${variable} cannot be read (${path}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return undefined;
  }
}

/**
 * Reads and validates the whole configuration from the environment in one place.
 * Collects every problem before failing, so one run shows all of them.
 */
export function loadConfig(env: Env): AnyConfig {
  // Empty variables count as unset, as in a compose file that leaves a value blank.
  const present: Env = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== "") present[key] = value;

  const parsed = envSchema.safeParse(present);
  const problems: string[] = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  // Read apart from the schema, so that a problem elsewhere does not hide which mode's checks apply;
  // an unknown transport gets its one problem (from the schema) and no mode's checks.
  const transportSetting = present.SIM_TRANSPORT ?? "https";
  const transport = transportSetting === "mqtt" || transportSetting === "https" ? transportSetting : undefined;

  let token: string | undefined;
  let caPem: string | undefined;
  let identities: DeviceIdentity[] | undefined;
  if (transport === "https") {
    for (const name of ["INFLUX_URL", "INFLUX_ORG", "INFLUX_BUCKET"]) {
      if (present[name] === undefined || present[name]?.trim() === "") problems.push(`${name} is required`);
    }
    const hasToken = present.INFLUX_TOKEN !== undefined;
    const hasTokenFile = present.INFLUX_TOKEN_FILE !== undefined;
    if (hasToken === hasTokenFile) {
      problems.push("exactly one of INFLUX_TOKEN or INFLUX_TOKEN_FILE must be set");
    }
    token = hasTokenFile ? readSecretFile("INFLUX_TOKEN_FILE", present.INFLUX_TOKEN_FILE as string, problems) : present.INFLUX_TOKEN?.trim();
    caPem = readCaFile("INFLUX_CA_FILE", present.INFLUX_CA_FILE, problems);
  } else if (transport === "mqtt") {
    // INFLUX_* are not read at all: the MQTT mode writes nothing to InfluxDB and holds no token.
    if (present.MQTT_URL === undefined) problems.push("MQTT_URL is required when SIM_TRANSPORT=mqtt (an mqtts:// URL such as mqtts://broker:8883)");
    caPem = readCaFile("MQTT_CA_FILE", present.MQTT_CA_FILE, problems);
    if (present.MQTT_IDENTITY_DIR === undefined) {
      problems.push("MQTT_IDENTITY_DIR is required when SIM_TRANSPORT=mqtt (a directory of <id>.crt and <id>.key per simulated device)");
    } else {
      const result = readIdentityDir(present.MQTT_IDENTITY_DIR);
      if (typeof result === "string") problems.push(result);
      else identities = result;
    }
  }

  if (parsed.success) {
    const v = parsed.data;
    if (v.SIM_EXIT_AFTER_BACKFILL && !v.SIM_BACKFILL) {
      problems.push("SIM_EXIT_AFTER_BACKFILL=true needs SIM_BACKFILL (a duration such as 24h)");
    }
    if (v.SIM_RETRY_MAX_MS < v.SIM_RETRY_MIN_MS) {
      problems.push("SIM_RETRY_MAX_MS must be at least SIM_RETRY_MIN_MS");
    }
    if (v.SIM_SHUTDOWN_TIMEOUT_MS >= 10_000 && !v.SIM_ALLOW_LONG_SHUTDOWN) {
      // Docker kills the container 10 s after SIGTERM by default; a longer flush would be cut off.
      problems.push("SIM_SHUTDOWN_TIMEOUT_MS must be below Docker's 10 s stop timeout (set SIM_ALLOW_LONG_SHUTDOWN=true if you raised it)");
    }
    if (identities !== undefined && v.SIM_DEVICES !== undefined && v.SIM_DEVICES !== identities.length) {
      problems.push(
        `SIM_DEVICES is ${v.SIM_DEVICES} but MQTT_IDENTITY_DIR holds ${identities.length} device identities; with SIM_TRANSPORT=mqtt leave SIM_DEVICES unset (the identities set the number)`,
      );
    }
  }

  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const v = parsed.data;

  const devices = identities?.length ?? v.SIM_DEVICES ?? 5;
  const linesPerSecond = (devices * 1000) / v.SIM_INTERVAL_MS;
  const bufferLines = v.SIM_BUFFER_LINES ?? Math.max(v.SIM_BATCH_SIZE * 2, Math.ceil(linesPerSecond * DEFAULT_BUFFER_SECONDS));
  // MQTT has no batches: the cap is the retry buffer's five minutes of readings alone, and at least
  // one reading per device so that every device can have one in flight.
  const maxInflightLines =
    v.SIM_MAX_INFLIGHT_LINES ?? (transport === "mqtt" ? Math.max(devices, Math.ceil(linesPerSecond * DEFAULT_BUFFER_SECONDS)) : bufferLines + v.SIM_BATCH_SIZE * 4);

  const common: CommonConfig = {
    caPem,
    devices,
    intervalMs: v.SIM_INTERVAL_MS,
    site: v.SIM_SITE,
    seed: v.SIM_SEED,
    measurement: v.SIM_MEASUREMENT,
    backfillMs: v.SIM_BACKFILL ?? 0,
    exitAfterBackfill: v.SIM_EXIT_AFTER_BACKFILL,
    logLevel: v.LOG_LEVEL,
    batchSize: v.SIM_BATCH_SIZE,
    flushIntervalMs: v.SIM_FLUSH_INTERVAL_MS,
    gzip: v.SIM_GZIP,
    bufferLines,
    maxInflightLines,
    maxLagMs: v.SIM_MAX_LAG_MS ?? DEFAULT_BUFFER_SECONDS * 1000,
    retryMinMs: v.SIM_RETRY_MIN_MS,
    retryMaxMs: v.SIM_RETRY_MAX_MS,
    retryJitterMs: v.SIM_RETRY_JITTER_MS,
    maxRetryTimeMs: v.SIM_MAX_RETRY_TIME_MS,
    requestTimeoutMs: v.SIM_REQUEST_TIMEOUT_MS,
    startupTimeoutMs: v.SIM_STARTUP_TIMEOUT_MS,
    shutdownTimeoutMs: v.SIM_SHUTDOWN_TIMEOUT_MS,
    healthFile: v.SIM_HEALTH_FILE,
    healthMaxAgeMs: v.SIM_HEALTH_MAX_AGE_MS ?? Math.max(3 * v.SIM_INTERVAL_MS, 30_000),
    metricsIntervalMs: v.SIM_METRICS_INTERVAL_MS,
    faults: {
      spikeRate: v.SIM_FAULT_SPIKE_RATE,
      stuckRate: v.SIM_FAULT_STUCK_RATE,
      dropoutRate: v.SIM_FAULT_DROPOUT_RATE,
    },
  };
  if (transport === "mqtt") {
    return { ...common, transport, mqttUrl: new URL(v.MQTT_URL as string), identities: identities as DeviceIdentity[] };
  }
  return {
    ...common,
    transport: "https",
    influxUrl: new URL(v.INFLUX_URL as string),
    org: v.INFLUX_ORG as string,
    bucket: v.INFLUX_BUCKET as string,
    token: token as string,
  };
}

/** Reads an optional CA bundle; a file that is not PEM certificates is a problem. */
function readCaFile(variable: string, path: string | undefined, problems: string[]): string | undefined {
  if (path === undefined) return undefined;
  const pem = readSecretFile(variable, path, problems);
  if (pem !== undefined && pem !== "" && !pem.includes("-----BEGIN CERTIFICATE-----")) {
    problems.push(`${variable} must be a PEM file of one or more certificates (${path})`);
  }
  return pem;
}

/** Every environment variable the simulator reads. */
export const SETTING_NAMES = Object.keys(envSchema.shape);

export const USAGE = "usage: npm run simulate [-- --help], or node dist/main.js [--help | -h]; the settings are environment variables, --help lists them";

/**
 * The --help text: every variable of the schema, one line each, with what it accepts and its
 * default, read from the schema (throws if a variable was added without its help).
 */
export function settingsHelp(): string {
  const names = SETTING_NAMES as Array<keyof typeof envSchema.shape>;
  const width = Math.max(...names.map((name) => name.length)) + 2;
  const lines = names.map((name) => {
    const { accepts, defaultText } = describeSetting(name, envSchema.shape[name]);
    return `  ${name.padEnd(width)}${accepts}${defaultText === undefined ? "" : `; default ${defaultText}`}`;
  });
  return [
    "IoT sensor simulator: writes sensor readings to InfluxDB 2 (SIM_TRANSPORT=https) or publishes them to an MQTT broker, one client certificate per device (SIM_TRANSPORT=mqtt). Its settings are environment variables:",
    ...lines,
    `Empty variables count as unset. What each one does: docs/SIMULATOR.md, "Settings".`,
    "",
  ].join("\n");
}

/** Reads a variable's help through its wrappers (default, optional) down to the schema that carries it. */
function describeSetting(name: string, schema: z.ZodType): { accepts: string; defaultText?: string } {
  let accepts: string | undefined;
  let defaultText: string | undefined;
  for (let layer: z.ZodType | undefined = schema; layer !== undefined; ) {
    const meta = HELP.get(layer);
    accepts ??= meta?.accepts;
    defaultText ??= meta?.whenUnset;
    const def = layer._zod.def as { type: string; innerType?: z.ZodType; defaultValue?: unknown; entries?: Record<string, string> };
    if (def.type === "default") defaultText ??= String(def.defaultValue);
    if (def.type === "enum") accepts ??= `one of ${Object.values(def.entries ?? {}).join(", ")}`;
    layer = def.type === "default" || def.type === "optional" ? def.innerType : undefined;
  }
  if (accepts === undefined) throw new Error(`${name} has no help: give its schema help(…, { accepts })`);
  return { accepts, defaultText };
}
