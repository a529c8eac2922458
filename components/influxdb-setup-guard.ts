// InfluxDB applies org, bucket, retention, admin user and password only at its first setup: once
// the data volume holds a database, the image's entrypoint skips setup. A changed value would then
// be ignored by InfluxDB while Grafana and the simulator used it and failed. This resource keeps
// the values the database was set up with and refuses a change at preview (Pulumi calls a
// provider's check with the old and the new inputs before anything is changed).
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { InfluxDbArgs } from "./influxdb";

export interface SetupValues {
  org: string;
  bucket: string;
  retention: string;
  adminUser: string;
  /** sha256 of the admin password and the operator token: whether they changed, never what they are */
  credentialsDigest: string;
}

/** The setup values as InfluxDb receives them (password and token secret). */
export type InfluxSetupGuardArgs = Pick<InfluxDbArgs, "org" | "bucket" | "retention" | "adminUser" | "adminPassword" | "operatorToken">;

/** The stack setting behind each value, as the operator knows it. */
const SETTING_OF: Record<keyof SetupValues, string> = {
  org: "influxOrg",
  bucket: "influxBucket",
  retention: "influxRetention",
  adminUser: "influxAdminUser",
  credentialsDigest: "influxAdminPassword (or the generated operator token)",
};

/** The changes to setup-only values between the inputs InfluxDB was set up with and the new ones. */
export function setupChanges(olds: Partial<SetupValues>, news: SetupValues): { property: string; reason: string }[] {
  if (Object.keys(olds).length === 0) return [];
  const failures: { property: string; reason: string }[] = [];
  for (const key of Object.keys(SETTING_OF) as (keyof SetupValues)[]) {
    if (olds[key] === undefined || olds[key] === news[key]) continue;
    const values = key === "credentialsDigest" ? "changed" : `was "${olds[key]}" at InfluxDB's first setup and is "${news[key]}" now`;
    failures.push({
      property: key,
      reason:
        `${SETTING_OF[key]} ${values}: InfluxDB applies it only at its first setup, so it would keep the old value ` +
        `while Grafana and the simulator used the new one. Set it back, or start over with an empty database ` +
        `(docs/CONFIGURATION.md, "Setup-only settings").`,
    });
  }
  return failures;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<SetupValues>, news: SetupValues) {
    return { inputs: news, failures: setupChanges(olds, news) };
  },
  async diff(_id: string, olds: SetupValues, news: SetupValues) {
    return { changes: (Object.keys(SETTING_OF) as (keyof SetupValues)[]).some((key) => olds[key] !== news[key]) };
  },
  async create(inputs: SetupValues) {
    return { id: `influxdb-setup-${inputs.org}-${inputs.bucket}`, outs: inputs };
  },
  async update(_id: string, _olds: SetupValues, news: SetupValues) {
    return { outs: news };
  },
};

/** Records InfluxDB's setup values in the stack state and refuses to change them (see the file comment). */
export class InfluxSetupGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: InfluxSetupGuardArgs, opts?: pulumi.CustomResourceOptions) {
    const credentialsDigest = pulumi
      .all([args.adminPassword, args.operatorToken])
      .apply(([password, token]) => createHash("sha256").update(password).update("\0").update(token).digest("hex"));
    super(
      provider,
      name,
      { org: args.org, bucket: args.bucket, retention: args.retention, adminUser: args.adminUser, credentialsDigest: pulumi.secret(credentialsDigest) },
      opts,
    );
  }
}
