import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkArgs {
  /** prefix of the Docker network names */
  namePrefix: pulumi.Input<string>;
}

/**
 * Two bridge networks. "backend" is internal: nothing on it is published, and Docker drops
 * traffic between it and any other network, including the way out to the internet. That
 * isolation is enforced by dockerd's iptables rules (dockerd's default "iptables": true, which the
 * host must keep): on engines up to 24 an internal network still has a gateway and a default
 * route inside the containers, and the Docker host itself stays reachable through that gateway
 * address. So InfluxDB and the simulator can reach the host's own services, not the outside
 * world; keep nothing on the host listening on all addresses that should not see them.
 * "frontend" exists only so that Grafana's published port has a network to be published from.
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
