import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface ServerIdentity {
  /** DNS names clients use (network aliases, localhost, external names) */
  dnsNames: string[];
  ipAddresses: string[];
}

export interface PkiArgs {
  /** organisation written into every certificate subject */
  organization: pulumi.Input<string>;
  validityHours: pulumi.Input<number>;
  /** re-issue when less than this is left: pulumi up then replaces the certificate */
  earlyRenewalHours: pulumi.Input<number>;
  /** one server certificate per entry */
  servers: Record<string, ServerIdentity>;
}

export interface ServerCertificate {
  certPem: pulumi.Output<string>;
  /** secret in state and outputs */
  privateKeyPem: pulumi.Output<string>;
}

/**
 * A private CA for this stack (ECDSA P-256) and a server certificate per service signed by it.
 * Private keys exist only as Pulumi secrets; the CA certificate is public and given to every client.
 */
export class Pki extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly servers: Record<string, ServerCertificate> = {};

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Pki", name, {}, opts);

    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        // the CA signs only the stack's own server certificates
        maxPathLength: 0,
        setSubjectKeyId: true,
        subject: { commonName: pulumi.interpolate`${args.organization} IoT stack CA`, organization: args.organization },
        validityPeriodHours: args.validityHours,
        earlyRenewalHours: args.earlyRenewalHours,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      { parent: this },
    );
    this.caCertPem = ca.certPem;

    for (const [server, identity] of Object.entries(args.servers)) {
      const key = new tls.PrivateKey(`${name}-${server}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const request = new tls.CertRequest(
        `${name}-${server}-csr`,
        {
          privateKeyPem: key.privateKeyPem,
          subject: { commonName: identity.dnsNames[0] ?? server, organization: args.organization },
          dnsNames: identity.dnsNames,
          ipAddresses: identity.ipAddresses,
        },
        { parent: this },
      );
      const cert = new tls.LocallySignedCert(
        `${name}-${server}-cert`,
        {
          certRequestPem: request.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: args.validityHours,
          earlyRenewalHours: args.earlyRenewalHours,
          setSubjectKeyId: true,
          allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { parent: this },
      );
      this.servers[server] = { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) };
    }
    this.registerOutputs({ caCertPem: this.caCertPem });
  }
}
