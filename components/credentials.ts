import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface CredentialsArgs {
  /** chosen passwords (secrets) that replace the generated ones */
  influxAdminPassword?: pulumi.Input<string>;
  grafanaAdminPassword?: pulumi.Input<string>;
}

/** Length of every generated credential: well above the 32 characters the brief asks for. */
export const CREDENTIAL_LENGTH = 40;

/**
 * The stack's generated secrets. Values stay the same across updates (random resources keep
 * their result in state) and are secret there and in every output.
 */
export class Credentials extends pulumi.ComponentResource {
  readonly influxAdminPassword: pulumi.Output<string>;
  /** InfluxDB's operator (all-access) token: held by InfluxDB and the stack outputs only */
  readonly influxOperatorToken: pulumi.Output<string>;
  readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Grafana's secret_key, which encrypts datasource secrets; its built-in default is public */
  readonly grafanaSecretKey: pulumi.Output<string>;

  constructor(name: string, args: CredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Credentials", name, {}, opts);
    const generate = (purpose: string, special: boolean) =>
      new random.RandomPassword(
        `${name}-${purpose}`,
        // Alphanumeric where the value travels in env files or URLs; symbols where only a human
        // types it. No "-": InfluxDB's entrypoint passes the password as `influx setup --password
        // "$P"`, and the CLI takes a value starting with "-" for a flag, so setup would fail
        // (found by the real-InfluxDB tier, test/influxdb/first-setup.test.ts).
        { length: CREDENTIAL_LENGTH, special, overrideSpecial: special ? "_.~!#%^*+=" : undefined, minUpper: 2, minLower: 2, minNumeric: 2 },
        { parent: this },
      ).result;

    // A chosen password replaces the generated one; nothing is generated for it then.
    this.influxAdminPassword = pulumi.secret(
      args.influxAdminPassword ? pulumi.output(args.influxAdminPassword) : generate("influx-admin-password", true),
    );
    this.grafanaAdminPassword = pulumi.secret(
      args.grafanaAdminPassword ? pulumi.output(args.grafanaAdminPassword) : generate("grafana-admin-password", true),
    );
    this.influxOperatorToken = pulumi.secret(generate("influx-operator-token", false));
    this.grafanaSecretKey = pulumi.secret(generate("grafana-secret-key", false));

    this.registerOutputs({
      influxAdminPassword: this.influxAdminPassword,
      influxOperatorToken: this.influxOperatorToken,
      grafanaAdminPassword: this.grafanaAdminPassword,
      grafanaSecretKey: this.grafanaSecretKey,
    });
  }
}
