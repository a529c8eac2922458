// What the dashboards and alert rules are built from: a plain object, so that the builders are pure
// functions of it, and one function that derives it from the validated stack settings (used by the
// program and by `npm run dashboards` alike).
import { DATASOURCE_UID } from "../components/grafana-provisioning";
import type { Settings } from "../settings";
import { DEFAULT_MEASUREMENT, type ReadingField } from "../simulator/src/schema";

/** The fields that have a configured normal range (and an out-of-range alert). */
export type RangedField = Extract<ReadingField, "temperature_c" | "humidity_pct">;

export interface DashboardOptions {
  /** the provisioned InfluxDB datasource */
  datasourceUid: string;
  bucket: string;
  /** measurement of the readings */
  measurement: string;
  /** devices configured (simDevices, simMqttDevices and the declared MQTT devices): what "all reporting" means */
  devices: number;
  /** each device's reporting interval (simIntervalMs) */
  intervalMs: number;
  /** a device is silent after this many intervals without a point */
  silentIntervals: number;
  outOfRangeMinutes: number;
  ranges: Record<RangedField, { min: number; max: number }>;
  batteryMinPct: number;
  droppedPointsMax: number;
}

export function dashboardOptions(settings: Settings): DashboardOptions {
  return {
    datasourceUid: DATASOURCE_UID,
    bucket: settings.influx.bucket,
    // The stack runs the simulator with its default measurement (components/simulator.ts sets no SIM_MEASUREMENT).
    measurement: DEFAULT_MEASUREMENT,
    devices: settings.simulator.devices + settings.mqtt.simulatedDevices.length + settings.mqtt.devices.length,
    intervalMs: settings.simulator.intervalMs,
    silentIntervals: settings.alerts.silentIntervals,
    outOfRangeMinutes: settings.alerts.outOfRangeMinutes,
    ranges: { temperature_c: settings.alerts.temperatureC, humidity_pct: settings.alerts.humidityPct },
    batteryMinPct: settings.alerts.batteryMinPct,
    droppedPointsMax: settings.alerts.droppedPointsMax,
  };
}

/** How long a device may send nothing before it counts as silent, in milliseconds. */
export function silentMs(o: DashboardOptions): number {
  return o.silentIntervals * o.intervalMs;
}

/**
 * A gap between two readings of one device longer than this is a dropout: the schedule is exact
 * (one reading per interval), so anything clearly longer than one interval means readings are missing.
 */
export function dropoutGapMs(o: DashboardOptions): number {
  return Math.round(1.5 * o.intervalMs);
}
