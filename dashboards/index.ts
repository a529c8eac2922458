// Everything Grafana is provisioned with besides the datasource: the dashboards, the alert rules
// and (with a webhook) the contact point, or (without) its removal, as file contents. The program stages exactly these files
// (components/grafana.ts) and `npm run dashboards` writes them (dashboards/cli.ts).
import { GRAFANA_FILES, GRAFANA_FILES_DIR, alertingProvisioning } from "../components/grafana-provisioning";
import { RETIRED_RULE_UIDS, buildAlertRules } from "./alerts";
import { deviceDetailDashboard } from "./device-detail";
import { fleetOverviewDashboard } from "./fleet-overview";
import type { DashboardOptions } from "./options";
import { pipelineHealthDashboard } from "./pipeline-health";

export { RETIRED_RULE_UIDS, buildAlertRules, type ProvisionedQuery, type ProvisionedRule, type ProvisionedRuleGroup } from "./alerts";
export { dashboardOptions, type DashboardOptions } from "./options";

/** Every provisioned dashboard as a built object, by file name (in the order docs/DASHBOARDS.md lists them). */
export function dashboardObjects(o: DashboardOptions) {
  return {
    "fleet-overview.json": fleetOverviewDashboard(o),
    "device-detail.json": deviceDetailDashboard(o),
    "pipeline-health.json": pipelineHealthDashboard(o),
  };
}

/** Every provisioned dashboard, as file name to JSON. */
export function buildDashboards(o: DashboardOptions): Record<string, string> {
  return Object.fromEntries(Object.entries(dashboardObjects(o)).map(([name, d]) => [name, `${JSON.stringify(d, null, 2)}\n`]));
}

export interface ProvisioningOptions {
  dashboards: DashboardOptions;
  /** whether a webhook contact point is configured (its URL is a secret staged separately) */
  contactPoint: boolean;
}

/**
 * The provisioned files, by path inside Grafana's files volume: what the program stages and what
 * `npm run dashboards` writes, byte for byte.
 */
export function provisionedFiles(o: ProvisioningOptions): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, json] of Object.entries(buildDashboards(o.dashboards))) files[`${GRAFANA_FILES.dashboardsDir}/${name}`] = json;
  files[GRAFANA_FILES.alerting] = alertingProvisioning({
    groups: buildAlertRules(o.dashboards),
    retiredRuleUids: RETIRED_RULE_UIDS,
    webhookUrlFile: o.contactPoint ? `${GRAFANA_FILES_DIR}/${GRAFANA_FILES.alertWebhookUrl}` : undefined,
  });
  return files;
}
