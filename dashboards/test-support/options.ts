import { DATASOURCE_UID } from "../../components/grafana-provisioning";
import type { DashboardOptions } from "../options";

/** Deliberately unlike the defaults, so that a value that does not flow through shows. */
export const UNUSUAL_OPTIONS: DashboardOptions = {
  datasourceUid: DATASOURCE_UID,
  bucket: "plant_7-data",
  measurement: "environment",
  devices: 12,
  intervalMs: 2000,
  silentIntervals: 4,
  outOfRangeMinutes: 9,
  ranges: { temperature_c: { min: -3, max: 41 }, humidity_pct: { min: 12, max: 88 } },
  batteryMinPct: 17,
  droppedPointsMax: 3,
};
