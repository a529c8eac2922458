// Grafana's provisioning files, as pure functions of their inputs (tested without Pulumi).
import { stringify } from "yaml";

export const DATASOURCE_UID = "influxdb-iot";

/**
 * The folders of the dashboards and of the alert rules: two, with titles nothing else uses. Grafana
 * 12.x/13.x provisions alerting and dashboards in parallel at start (pkg/services/provisioning/
 * provisioning.go, starting(): "alerting, dashboards, and the Prometheus-type migration ... are
 * independent"), and each looks a folder up and creates it when missing: the alert rules by title
 * only (pkg/services/provisioning/alerting/rules_provisioner.go, getOrCreateFolderByTitle; the
 * file's group has no folder uid, rules_types.go AlertRuleGroupV1), the dashboards by `folderUid`
 * when the provider sets one (pkg/services/provisioning/dashboards/file_reader.go,
 * getOrCreateFolder). One shared title let both look it up, miss, and create it. With two titles
 * no start order can collide, and the dashboards' folder is found by its uid whatever its title.
 * A Grafana provisioned before keeps its folder "IoT": rules are matched by uid and moved to their
 * group's folder, dashboards by file and moved when their JSON changes, and the emptied folder
 * stays until someone deletes it.
 */
export const DASHBOARD_FOLDER = { title: "IoT dashboards", uid: "iot-dashboards" } as const;
/** Folder title of the alert rules (alerting provisioning files name a folder by title only). */
export const ALERT_FOLDER = "IoT alerts";

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
 *
 * Only keys the Flux path reads. Grafana's pkg/tsdb/influxdb/influxdb.go (NewInstanceSettings)
 * reads version, organization, defaultBucket, httpMode, maxSeries; flux/flux.go
 * (runnerFromDataSource) then uses the organization, URL, token and HTTP client, and the
 * influxdb-client-go QueryAPI always POSTs: `httpMode` is the InfluxQL path's GET/POST choice, so
 * it is not set. The HTTP client's TLS comes from grafana-plugin-sdk-go backend/http_settings.go
 * (parseHTTPSettings): `tlsAuthWithCACert` is the switch that makes it read `tlsCACert`, and
 * `tlsSkipVerify` is read with it (some SDK versions read it only under that switch). So
 * `tlsSkipVerify: false` (also the default) goes with the CA, to say in the file that the
 * certificate is verified, and is left out on plain HTTP, where it means nothing.
 */
export function datasourceProvisioning(o: DatasourceOptions): string {
  const jsonData: Record<string, unknown> = { version: "Flux", organization: o.org, defaultBucket: o.bucket };
  const secureJsonData: Record<string, string> = { token: `$__file{${o.tokenFile}}` };
  if (o.caFile) {
    jsonData.tlsAuthWithCACert = true;
    jsonData.tlsSkipVerify = false;
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

/**
 * A file provider for the dashboards in `path`, read-only in the UI, in the folder found (or
 * created) by its uid. Provisioned dashboards are matched by path and checksum and saved with the
 * provider's folder when their file changed (file_reader.go, saveDashboard), so dashboards that
 * lay in an earlier folder move here the first time their JSON changes; a folder left empty stays
 * (no provisioner deletes folders).
 */
export function dashboardProvisioning(path: string): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: "iot",
        orgId: 1,
        folder: DASHBOARD_FOLDER.title,
        folderUid: DASHBOARD_FOLDER.uid,
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
  /** uids of rules this program once provisioned and no longer does (dashboards/alerts.ts RETIRED_RULE_UIDS) */
  retiredRuleUids?: readonly string[];
}

/** The organisation everything is provisioned in. */
const ORG_ID = 1;

/**
 * The alerting provisioning file: the rule groups and, with a webhook, a contact point and the
 * notification policy that routes every alert to it. The URL is read by Grafana from a file at
 * start ($__file{}, expanded in alerting provisioning files too), so it is in neither this file
 * nor the container's environment.
 *
 * Grafana keeps what was provisioned in its database, and removing something from this file does
 * not remove it there: only deleteRules, deleteContactPoints and resetPolicies do. The program
 * cannot know what an earlier run provisioned, so removals are stated every time, and only those
 * Grafana's source shows to be no-ops when there is nothing to remove (a provisioning error stops
 * Grafana at start: pkg/services/provisioning/provisioning.go, starting(), returns the alerting
 * error):
 * - without a webhook: resetPolicies for the organisation (the routing tree back to Grafana's
 *   default; ngalert/notifier/routes/service.go DeleteManagedRoute resets the user-defined tree,
 *   which always exists, and the relaxed provenance check allows file over none or file) and
 *   deleteContactPoints for the webhook's uid (ngalert/provisioning/contactpoints.go
 *   DeleteContactPoint removes the integration with that uid if there is one and saves; none is
 *   no error). Grafana applies resetPolicies before deleteContactPoints
 *   (pkg/services/provisioning/alerting/provisioner.go, Provision), so the contact point is no
 *   longer referenced by the policy when it is deleted (a referenced one would be an error).
 *   This resets any notification policy edited by hand too: the stack owns organisation 1's policy.
 * - retired rules: deleteRules for each uid, after the groups of this file
 *   (rules_provisioner.go, Provision); "the single delete is idempotent"
 *   (ngalert/provisioning/alert_rules.go, DeleteAlertRule). Rules left out of a group are not
 *   deleted by Grafana, which is why a rule removed from code is listed as retired.
 */
export function alertingProvisioning(o: AlertingOptions): string {
  const file: Record<string, unknown> = { apiVersion: 1, groups: o.groups };
  if (o.retiredRuleUids?.length) file.deleteRules = o.retiredRuleUids.map((uid) => ({ orgId: ORG_ID, uid }));
  if (o.webhookUrlFile) {
    file.contactPoints = [
      {
        orgId: ORG_ID,
        name: CONTACT_POINT,
        receivers: [{ uid: CONTACT_POINT, type: "webhook", settings: { url: `$__file{${o.webhookUrlFile}}`, httpMethod: "POST" }, disableResolveMessage: false }],
      },
    ];
    // Replaces the organisation's default policy: everything goes to the webhook, one
    // notification per rule (grouped by folder and rule name), repeated every four hours while firing.
    file.policies = [{ orgId: ORG_ID, receiver: CONTACT_POINT, group_by: ["grafana_folder", "alertname"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" }];
  } else {
    file.resetPolicies = [ORG_ID];
    file.deleteContactPoints = [{ orgId: ORG_ID, uid: CONTACT_POINT }];
  }
  // Literal blocks, never folded lines: the Flux text reads in the file exactly as Grafana runs it.
  return stringify(file, { blockQuote: "literal", lineWidth: 0 });
}
