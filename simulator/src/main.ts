import { writeSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import pino from "pino";
import type { Logger } from "pino";
import { ConfigError, USAGE, loadConfig, settingsHelp, type MqttSimulatorConfig } from "./config";
import { Fleet } from "./fleet";
import { HealthFile } from "./health";
import { MetricsReporter } from "./metrics";
import { MqttPublisher, readingsTopic } from "./mqtt-publisher";
import { checkServer } from "./server-check";
import { Simulator } from "./simulator";
import { InfluxWriter } from "./writer";

const EXIT_FATAL = 1;
const EXIT_CONFIG = 2;

// Belt and braces: the token is never put into a log object, and if it ever were, it is masked.
const REDACT = ["token", "*.token", "headers.authorization", "*.headers.authorization", "config.token"];

// Log lines are written to stdout synchronously: pino's default asynchronous stream can still be
// writing when process.exit() runs, and the last lines (the summary, a fatal error) would be lost
// or reordered. The simulator logs little, so nothing on the hot path waits for it.
const stdout = pino.destination({ dest: 1, sync: true });

async function main(): Promise<number> {
  // Settings come from the environment only; an argument is either a request for help or a mistake.
  // writeSync: process.exit() follows, and must not cut the text short.
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    writeSync(1, settingsHelp());
    return 0;
  }
  if (args.length > 0) {
    writeSync(2, `unknown argument ${JSON.stringify(args[0])}; ${USAGE}\n`);
    return EXIT_CONFIG;
  }

  const bootLog = pino({ base: undefined, redact: REDACT }, stdout);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      bootLog.fatal({ problems: error.problems }, `invalid configuration: ${error.message}`);
      return EXIT_CONFIG;
    }
    throw error;
  }

  const log = pino({ level: config.logLevel, base: { service: "simulator" }, redact: REDACT }, stdout);
  if (config.transport === "mqtt") return runMqtt(config, log);
  if (config.influxUrl.protocol === "http:") {
    log.warn({ url: config.influxUrl.origin }, "INFLUX_URL is plain http: readings and the token travel unencrypted");
  }
  log.info(
    {
      url: config.influxUrl.origin,
      org: config.org,
      bucket: config.bucket,
      devices: config.devices,
      interval_ms: config.intervalMs,
      site: config.site,
      seed: config.seed,
      backfill_ms: config.backfillMs,
      metrics_interval_ms: config.metricsIntervalMs,
      buffer_lines: config.bufferLines,
      max_inflight_lines: config.maxInflightLines,
      ca: config.caPem ? "INFLUX_CA_FILE" : "system store",
    },
    "simulator starting",
  );

  const writer = new InfluxWriter(config, log);
  const fleet = new Fleet(config);
  const simulator = new Simulator(config, fleet, writer, log);
  const health = new HealthFile(config.healthFile, () => writer.lastSuccessAt);
  // the simulator's own counters, on the same write path, counted apart from the readings
  const metrics = new MetricsReporter(config.site, config.metricsIntervalMs, writer);

  // SIGTERM/SIGINT: stop generating, abort the startup probe if it is still running, and finish
  // within the shutdown timeout counted from the signal, whatever the server does.
  const stop = onStopSignals(log, config.shutdownTimeoutMs, simulator);

  try {
    await checkServer(config, log, stop.signal);
  } catch (error) {
    log.fatal({ err: { type: (error as Error).name, message: (error as Error).message } }, (error as Error).message);
    return EXIT_FATAL;
  }
  const stoppedDuringProbe = stop.requestedAt();
  if (stoppedDuringProbe !== undefined) {
    // nothing was generated yet; the writer has nothing in flight
    log.info({ ...writer.counters, ...writer.metricsCounters, shutdown_ms: Date.now() - stoppedDuringProbe }, "simulator stopped");
    return 0;
  }

  const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  eventLoopDelay.enable();
  health.start();
  metrics.start();
  await simulator.run();
  // no new metrics line once the shutdown began: the drain sends what is already handed over
  metrics.stop();
  // from the signal, or from the end of the backfill when SIM_EXIT_AFTER_BACKFILL ends the run
  const shutdownStarted = stop.requestedAt() ?? Date.now();
  await writer.drain(shutdownStarted + config.shutdownTimeoutMs);
  health.stop();
  eventLoopDelay.disable();
  log.info(
    { ...writer.counters, ...writer.metricsCounters, shutdown_ms: Date.now() - shutdownStarted, ...resourceUsage(eventLoopDelay.percentile(99)) },
    "simulator stopped",
  );
  return 0;
}

/**
 * SIM_TRANSPORT=mqtt: the same fleet and simulator, each reading published by its device over its
 * own MQTT connection (mqtt-publisher.ts). No metrics lines: that mode holds no InfluxDB token.
 */
async function runMqtt(config: MqttSimulatorConfig, log: Logger): Promise<number> {
  log.info(
    {
      transport: "mqtt",
      broker: config.mqttUrl.host,
      devices: config.devices,
      first_device: config.identities[0].id,
      topic_of_first: readingsTopic(config.site, config.identities[0].id),
      interval_ms: config.intervalMs,
      site: config.site,
      seed: config.seed,
      backfill_ms: config.backfillMs,
      max_inflight_lines: config.maxInflightLines,
      ca: config.caPem ? "MQTT_CA_FILE" : "system store",
    },
    "simulator starting",
  );
  const publisher = new MqttPublisher(config, log);
  const fleet = new Fleet(config);
  const simulator = new Simulator(config, fleet, publisher, log);
  const health = new HealthFile(config.healthFile, () => publisher.lastSuccessAt());

  const stop = onStopSignals(log, config.shutdownTimeoutMs, simulator);

  try {
    await publisher.waitForConnections(stop.signal);
  } catch (error) {
    log.fatal({ err: { type: (error as Error).name, message: (error as Error).message } }, (error as Error).message);
    await publisher.drain(Date.now());
    return EXIT_FATAL;
  }
  const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  eventLoopDelay.enable();
  if (stop.requestedAt() === undefined) {
    health.start();
    await simulator.run();
  }
  const shutdownStarted = stop.requestedAt() ?? Date.now();
  await publisher.drain(shutdownStarted + config.shutdownTimeoutMs);
  health.stop();
  eventLoopDelay.disable();
  log.info(
    { ...publisher.counters, ...publisher.summary, shutdown_ms: Date.now() - shutdownStarted, ...resourceUsage(eventLoopDelay.percentile(99)) },
    "simulator stopped",
  );
  return 0;
}

/** Figures for operators and the benchmark: CPU time, memory, event-loop delay. */
function resourceUsage(eventLoopDelayP99Ns: number): Record<string, number> {
  const cpu = process.cpuUsage();
  const usage: Record<string, number> = {
    cpu_user_ms: Math.round(cpu.user / 1000),
    cpu_system_ms: Math.round(cpu.system / 1000),
    rss_bytes: process.memoryUsage.rss(),
    max_rss_bytes: process.resourceUsage().maxRSS * 1024,
    heap_used_bytes: process.memoryUsage().heapUsed,
    event_loop_delay_p99_ms: Math.round(eventLoopDelayP99Ns / 1e4) / 100,
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    // only when started with --expose-gc (the benchmark does): live memory after a full collection,
    // the JS heap plus the typed arrays and buffers outside it (the fleet's per-device state)
    gc();
    const memory = process.memoryUsage();
    usage.heap_after_gc_bytes = memory.heapUsed + memory.external;
  }
  return usage;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    pino({ base: undefined }, stdout).fatal({ err: { message: (error as Error)?.message, stack: (error as Error)?.stack } }, "simulator crashed");
    process.exit(EXIT_FATAL);
  },
);

/**
 * SIGTERM/SIGINT (the first of them): log it, stop generating, and abort the returned signal (the
 * startup probe or the wait for connections), so that main finishes within the shutdown timeout
 * counted from the signal. requestedAt() is when it came, undefined before.
 */
function onStopSignals(log: Logger, shutdownTimeoutMs: number, simulator: Simulator): { signal: AbortSignal; requestedAt(): number | undefined } {
  const stopping = new AbortController();
  let requestedAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) return;
    requestedAt = Date.now();
    log.info({ signal, shutdown_timeout_ms: shutdownTimeoutMs }, "stopping");
    stopping.abort();
    simulator.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return { signal: stopping.signal, requestedAt: () => requestedAt };
}
