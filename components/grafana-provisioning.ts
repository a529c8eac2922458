// Grafana's provisioning files, as pure functions of their inputs (tested without Pulumi).
import { stringify } from "yaml";

export const DATASOURCE_UID = "influxdb-iot";

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
        folder: "IoT",
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path, foldersFromFilesStructure: false },
      },
    ],
  });
}

/** A provisioning file that provisions nothing, so that Grafana finds the folder: `apiVersion: 1` and an empty list. */
export function emptyProvisioning(listKey: "apps" | "groups"): string {
  return stringify({ apiVersion: 1, [listKey]: [] });
}
