import { fleetOverviewDashboard, type FleetDashboardOptions } from "./fleet-overview";

/** Every provisioned dashboard, as file name to JSON. */
export function buildDashboards(options: FleetDashboardOptions): Record<string, string> {
  return {
    "fleet-overview.json": JSON.stringify(fleetOverviewDashboard(options), null, 2),
  };
}
