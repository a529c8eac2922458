// Grafana's provisioning files, as pure functions of their inputs (tested without Pulumi).
import { stringify } from "yaml";

export const DATASOURCE_UID = "influxdb-iot";

/** The Grafana folder of the provisioned dashboards and alert rules. */
export const GRAFANA_FOLDER = "IoT";

/** Where Grafana's files volume is mounted (read-only) in its container. */
export const GRAFANA_FILES_DIR = "/etc/iot/grafana";

/**
 * Paths inside Grafana's files volume. The program stages these files and `npm run dashboards`
 * writes the same paths under its --out folder.
 */
export const GRAFANA_FILES = {
  dashboardsDir: "dashboards",
  alerting: "provisioning/alerting/iot.yaml",
  /** the contact point's URL, a secret: read by Grafana through $__file{}, never in the environment */
  alertWebhookUrl: "secrets/alert-webhook-url",
} as const;

/** Name (and receiver uid) of the webhook contact point. */
export const CONTACT_POINT = "iot-webhook";

export interface DatasourceOptions {
  influxUrl: string;
  org: string;
  bucket: string;
  /** file holding the read-only token, as mounted into the Grafana container */
  tokenFile: string;
  /** file holding the CA certificate; undefined when InfluxDB serves plain HTTP */
  caFile?: string;
}

/**
 * The InfluxDB datasource: Flux, the stack's org and bucket, the read-only token and the CA,
 * both read by Grafana from files at start ($__file{}, expanded in provisioning files by
 * Grafana's pkg/services/provisioning/values). Certificate verification is never skipped.
 */
export function datasourceProvisioning(o: DatasourceOptions): string {
  const jsonData: Record<string, unknown> = {
    version: "Flux",
    organization: o.org,
    defaultBucket: o.bucket,
    httpMode: "POST",
    tlsSkipVerify: false,
  };
  const secureJsonData: Record<string, string> = { token: `$__file{${o.tokenFile}}` };
  if (o.caFile) {
    jsonData.tlsAuthWithCACert = true;
    secureJsonData.tlsCACert = `$__file{${o.caFile}}`;
  }
  return stringify({
    apiVersion: 1,
    datasources: [
      {
        name: "InfluxDB",
        uid: DATASOURCE_UID,
        type: "influxdb",
        access: "proxy",
        url: o.influxUrl,
        isDefault: true,
        editable: false,
        jsonData,
        secureJsonData,
      },
    ],
  });
}

/** A file provider for the dashboards in `path`, read-only in the UI. */
export function dashboardProvisioning(path: string): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: "iot",
        orgId: 1,
        folder: GRAFANA_FOLDER,
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path, foldersFromFilesStructure: false },
      },
    ],
  });
}

/** A provisioning file that provisions nothing, so that Grafana finds the folder: `apiVersion: 1` and an empty list. */
export function emptyProvisioning(listKey: "apps"): string {
  return stringify({ apiVersion: 1, [listKey]: [] });
}

export interface AlertingOptions {
  /** rule groups in the provisioning file's shape (dashboards/alerts.ts) */
  groups: unknown[];
  /**
   * Absolute path of the file holding the webhook URL, or undefined for no contact point: the
   * rules still evaluate and show their state in Grafana, and nothing is sent.
   */
  webhookUrlFile?: string;
}

/**
 * The alerting provisioning file: the rule groups and, with a webhook, a contact point and the
 * notification policy that routes every alert to it. The URL is read by Grafana from a file at
 * start ($__file{}, expanded in alerting provisioning files too), so it is in neither this file
 * nor the container's environment.
 */
export function alertingProvisioning(o: AlertingOptions): string {
  const file: Record<string, unknown> = { apiVersion: 1, groups: o.groups };
  if (o.webhookUrlFile) {
    file.contactPoints = [
      {
        orgId: 1,
        name: CONTACT_POINT,
        receivers: [{ uid: CONTACT_POINT, type: "webhook", settings: { url: `$__file{${o.webhookUrlFile}}`, httpMethod: "POST" }, disableResolveMessage: false }],
      },
    ];
    // Replaces the organisation's default policy: everything goes to the webhook, one
    // notification per rule (grouped by folder and rule name), repeated every four hours while firing.
    file.policies = [{ orgId: 1, receiver: CONTACT_POINT, group_by: ["grafana_folder", "alertname"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" }];
  }
  // Literal blocks, never folded lines: the Flux text reads in the file exactly as Grafana runs it.
  return stringify(file, { blockQuote: "literal", lineWidth: 0 });
}
