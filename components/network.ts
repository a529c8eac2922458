import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkArgs {
  /** prefix of the Docker network names */
  namePrefix: pulumi.Input<string>;
}

/**
 * Two bridge networks. "backend" is internal: Docker gives it no route out, so InfluxDB and the
 * simulator cannot reach or be reached from outside the host. "frontend" exists only so that
 * Grafana's published port has a network to be published from.
 */
export class Network extends pulumi.ComponentResource {
  readonly backend: docker.Network;
  readonly frontend: docker.Network;
  readonly backendName: pulumi.Output<string>;
  readonly frontendName: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Network", name, {}, opts);
    const labels = [{ label: "org.opencontainers.image.vendor", value: "secure-iot" }];

    this.backend = new docker.Network(
      `${name}-backend`,
      {
        name: pulumi.interpolate`${args.namePrefix}-backend`,
        driver: "bridge",
        internal: true,
        attachable: false,
        ipv6: false,
        labels,
      },
      { parent: this },
    );
    this.frontend = new docker.Network(
      `${name}-frontend`,
      {
        name: pulumi.interpolate`${args.namePrefix}-frontend`,
        driver: "bridge",
        internal: false,
        attachable: false,
        ipv6: false,
        labels,
      },
      { parent: this },
    );
    this.backendName = this.backend.name;
    this.frontendName = this.frontend.name;
    this.registerOutputs({ backendName: this.backendName, frontendName: this.frontendName });
  }
}
