// What Grafana does with this stack's provisioning files at start, modelled from Grafana's source,
// because no real Grafana runs in these tests. Everything Grafana-specific the tests assume is here,
// each rule with the file and function it comes from. The stack pins grafana/grafana:13.0.1; the
// repository's snapshot was too large to fetch whole, so the files were read from the public code
// index of grafana/grafana (untagged versions of 2025–2026, the 12.x/13.x code: named routes, the
// parallel start-up); where versions differed, the point used here was the same in all of them.
//
// Start-up (pkg/services/provisioning/provisioning.go, ProvisioningServiceImpl.starting): after the
// datasources, alerting and dashboards are provisioned in parallel; an alerting error fails the
// start (returned from the errgroup), a dashboards error does too unless it is ErrGetOrCreateFolder.
import { parse } from "yaml";

/** A provisioning error: Grafana would log it and not start. */
export class GrafanaStartError extends Error {}

export interface Folder {
  uid: string;
  title: string;
}

export interface GrafanaState {
  folders: Folder[];
  /** alert rules by uid */
  rules: Map<string, { folderUid: string; group: string; title: string }>;
  /** contact points: a name and its integrations' uids (the Alertmanager config's receivers) */
  contactPoints: Array<{ name: string; integrationUids: string[] }>;
  /** the receiver of the root of the notification policy tree */
  policyReceiver: string;
}

/**
 * The default Alertmanager configuration every organisation starts from: one email contact point,
 * the root policy routing to it (pkg/setting/setting_unified_alerting.go, the default
 * configuration), saved for each organisation before provisioning runs
 * (pkg/services/ngalert/ngalert.go init: LoadAndSyncAlertmanagersForOrgs "before we start the
 * alerting components").
 */
export const DEFAULT_CONTACT_POINT = "grafana-default-email";

export function freshGrafana(): GrafanaState {
  return {
    folders: [],
    rules: new Map(),
    contactPoints: [{ name: DEFAULT_CONTACT_POINT, integrationUids: [""] }],
    policyReceiver: DEFAULT_CONTACT_POINT,
  };
}

/**
 * The keys of an alerting provisioning file, apiVersion 1 (pkg/services/provisioning/alerting/
 * types.go, AlertingFileV1). Grafana's YAML reader ignores any other key, so a misspelt removal
 * would silently do nothing: the model refuses it instead.
 */
const ALERTING_FILE_KEYS = [
  "apiVersion",
  "groups",
  "deleteRules",
  "contactPoints",
  "deleteContactPoints",
  "policies",
  "resetPolicies",
  "muteTimes",
  "deleteMuteTimes",
  "templates",
  "deleteTemplates",
];

interface AlertingFile {
  groups?: Array<{ orgId?: number; name: string; folder: string; rules: Array<{ uid: string; title: string }> }>;
  deleteRules?: Array<{ orgId?: number; uid: string }>;
  contactPoints?: Array<{ orgId?: number; name: string; receivers: Array<{ uid: string }> }>;
  deleteContactPoints?: Array<{ orgId?: number; uid: string }>;
  policies?: Array<{ orgId?: number; receiver: string }>;
  resetPolicies?: number[];
}

let generatedUids = 0;
/** util.GenerateShortUID: a random uid for a folder created by title only. */
const shortUid = () => `generated-${++generatedUids}`;

/**
 * Alert rules' folders: looked up by title at the root, created with a random uid when missing
 * (pkg/services/provisioning/alerting/rules_provisioner.go, getOrCreateFolderByTitle; the group's
 * `folder` is a title or a title path, rules_types.go AlertRuleGroupV1 has no folder uid). Split
 * into the look-up and the creation, which other provisioners can run between.
 */
export function alertFolderSteps(state: GrafanaState, title: string) {
  let found: Folder | undefined;
  return {
    lookup: () => {
      found = state.folders.find((f) => f.title === title);
    },
    create: (): string => {
      if (found) return found.uid;
      const folder = { uid: shortUid(), title };
      state.folders.push(folder);
      return folder.uid;
    },
  };
}

/**
 * A dashboards file provider's folder: looked up by `folderUid` when the provider sets one, else by
 * title, and created with that uid (empty: random) and title when missing
 * (pkg/services/provisioning/dashboards/file_reader.go, getOrCreateFolder).
 */
export function dashboardFolderSteps(state: GrafanaState, provider: { folder: string; folderUid?: string }) {
  let found: Folder | undefined;
  return {
    lookup: () => {
      found = provider.folderUid ? state.folders.find((f) => f.uid === provider.folderUid) : state.folders.find((f) => f.title === provider.folder);
    },
    create: (): string => {
      if (found) return found.uid;
      if (provider.folderUid && state.folders.some((f) => f.uid === provider.folderUid)) {
        throw new GrafanaStartError(`a folder with uid ${provider.folderUid} already exists`);
      }
      const folder = { uid: provider.folderUid || shortUid(), title: provider.folder };
      state.folders.push(folder);
      return folder.uid;
    },
  };
}

function getOrCreateAlertFolder(state: GrafanaState, title: string): string {
  const steps = alertFolderSteps(state, title);
  steps.lookup();
  return steps.create();
}

/**
 * One start of Grafana with this alerting provisioning file, in the order of
 * pkg/services/provisioning/alerting/provisioner.go (Provision): rule groups, then the file's
 * deleteRules; contact points; policies; then resetPolicies before deleteContactPoints. Throws
 * GrafanaStartError where Grafana returns an error (and so does not start).
 */
export function provisionAlerting(state: GrafanaState, yaml: string): void {
  const raw = parse(yaml) as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !ALERTING_FILE_KEYS.includes(k));
  if (unknown.length) throw new Error(`keys Grafana's alerting file reader ignores: ${unknown.join(", ")}`);
  if (raw.apiVersion !== 1) throw new Error("apiVersion must be 1");
  const file = raw as AlertingFile;
  for (const g of [...(file.groups ?? []), ...(file.deleteRules ?? []), ...(file.contactPoints ?? []), ...(file.deleteContactPoints ?? []), ...(file.policies ?? [])]) {
    if ((g.orgId ?? 1) !== 1) throw new Error("the model knows organisation 1 only");
  }

  // rules_provisioner.go Provision: each group's folder by title, each rule created or updated by
  // uid (an update moves it to the group's folder: alert_rules.go UpdateAlertRule stores the rule
  // as given), then deleteRules.
  for (const group of file.groups ?? []) {
    const folderUid = getOrCreateAlertFolder(state, group.folder);
    for (const rule of group.rules) state.rules.set(rule.uid, { folderUid, group: group.name, title: rule.title });
  }
  // ngalert/provisioning/alert_rules.go DeleteAlertRule: "The single delete is idempotent"; the
  // stored provenance of an absent rule is none (ngalert/store/provisioning_store.go
  // GetProvenance), which any provenance may delete.
  for (const d of file.deleteRules ?? []) state.rules.delete(d.uid);

  // contact_point_provisioner.go Provision: update the integration with the receiver's uid, or
  // create it in the contact point of that name (contactpoints.go CreateContactPoint).
  for (const cp of file.contactPoints ?? []) {
    for (const receiver of cp.receivers) {
      const owner = state.contactPoints.find((c) => c.integrationUids.includes(receiver.uid));
      if (owner?.name === cp.name) continue;
      if (owner) owner.integrationUids = owner.integrationUids.filter((uid) => uid !== receiver.uid);
      const target = state.contactPoints.find((c) => c.name === cp.name);
      if (target) target.integrationUids.push(receiver.uid);
      else state.contactPoints.push({ name: cp.name, integrationUids: [receiver.uid] });
    }
  }

  // notification_policy_provisioner.go Provision: UpdatePolicyTree, which refuses a tree naming a
  // receiver that does not exist (ngalert/provisioning/notification_policies.go, the tree's
  // ValidateReceivers against the configuration's receivers).
  for (const policy of file.policies ?? []) {
    if (!state.contactPoints.some((c) => c.name === policy.receiver)) {
      throw new GrafanaStartError(`policy receiver ${policy.receiver} does not exist`);
    }
    state.policyReceiver = policy.receiver;
  }

  // notification_policy_provisioner.go Unprovision → ResetPolicyTree → ngalert/notifier/routes/
  // service.go DeleteManagedRoute for the user-defined tree (always present): the tree becomes the
  // default configuration's, whose receiver is made to exist (ensureDefaultReceiverExists /
  // ResetUserDefinedRoute). The provenance check (validation/provenance.go
  // ValidateProvenanceRelaxed) refuses only a change to "none", and provisioning passes "file".
  for (const orgId of file.resetPolicies ?? []) {
    if (orgId !== 1) throw new Error("the model knows organisation 1 only");
    state.policyReceiver = DEFAULT_CONTACT_POINT;
    if (!state.contactPoints.some((c) => c.name === DEFAULT_CONTACT_POINT)) state.contactPoints.push({ name: DEFAULT_CONTACT_POINT, integrationUids: [""] });
  }

  // contact_point_provisioner.go Unprovision → contactpoints.go DeleteContactPoint: removes the
  // integration with that uid if any (none: nothing changes, no error); when that empties the
  // contact point and a policy still routes to it, ErrContactPointReferenced.
  for (const d of file.deleteContactPoints ?? []) {
    const owner = state.contactPoints.find((c) => c.integrationUids.includes(d.uid));
    if (!owner) continue;
    const remaining = owner.integrationUids.filter((uid) => uid !== d.uid);
    if (remaining.length === 0 && state.policyReceiver === owner.name) {
      throw new GrafanaStartError(`contact point ${owner.name} is referenced by the notification policy`);
    }
    owner.integrationUids = remaining;
    if (remaining.length === 0) state.contactPoints = state.contactPoints.filter((c) => c !== owner);
  }
}

/**
 * The entry Grafana puts first in a dashboard's annotations when none is built in
 * (apps/dashboard/pkg/migration/frontend_defaults.go addBuiltInAnnotationQuery and its test
 * TestAddBuiltInAnnotationQuery; public/app/features/dashboard/state/DashboardModel.ts).
 */
export const BUILT_IN_ANNOTATION = {
  datasource: { uid: "-- Grafana --", type: "grafana" },
  name: "Annotations & Alerts",
  type: "dashboard",
  iconColor: "rgba(0, 211, 255, 1)",
  enable: true,
  hide: true,
  builtIn: 1,
};

/**
 * The datasource jsonData keys the InfluxDB datasource reads when `version` is Flux:
 * pkg/tsdb/influxdb/influxdb.go (NewInstanceSettings) reads version, organization, defaultBucket,
 * maxSeries, timeInterval (and httpMode, dbName, insecureGrpc, which the InfluxQL and SQL paths
 * use: flux/flux.go runnerFromDataSource builds an influxdb-client-go client from organization,
 * URL, token and the HTTP client only); the HTTP client's TLS keys come from grafana-plugin-sdk-go
 * backend/http_settings.go (parseHTTPSettings: tlsAuth, tlsAuthWithCACert, tlsSkipVerify,
 * serverName; the CA and client certificate are read only when tlsAuth or tlsAuthWithCACert is on).
 */
export const FLUX_JSONDATA_KEYS = ["version", "organization", "defaultBucket", "maxSeries", "timeInterval", "tlsAuth", "tlsAuthWithCACert", "tlsSkipVerify", "serverName"];
/** The TLS keys that mean nothing unless one of the switches tlsAuth / tlsAuthWithCACert is on. */
export const TLS_KEYS_UNDER_SWITCH = ["tlsSkipVerify", "serverName"];
