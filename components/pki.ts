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
  /** one client certificate per identity (device ids, the bridge, the broker's health check): CN = the identity */
  clients?: readonly string[];
}

export interface ClientCertificate {
  certPem: pulumi.Output<string>;
  /** PKCS#8 PEM, secret in state and outputs */
  privateKeyPem: pulumi.Output<string>;
  /** RFC 3339 */
  notAfter: pulumi.Output<string>;
}

export interface ServerCertificate {
  certPem: pulumi.Output<string>;
  /** secret in state and outputs */
  privateKeyPem: pulumi.Output<string>;
}

/**
 * A private CA for this stack (ECDSA P-256), a server certificate per service and a client
 * certificate per MQTT identity, signed by it.
 * Private keys exist only as Pulumi secrets; the CA certificate is public and given to every client.
 */
export class Pki extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly servers: Record<string, ServerCertificate> = {};
  readonly clients: Record<string, ClientCertificate> = {};
  /** secret: signs the device CRL (components/device-crl.ts) */
  readonly caPrivateKeyPkcs8Pem: pulumi.Output<string>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:Pki", name, {}, opts);

    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        // the CA signs only the stack's own leaf certificates (servers and MQTT clients), never another CA
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
    this.caPrivateKeyPkcs8Pem = pulumi.secret(caKey.privateKeyPemPkcs8);

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
    // Client certificates: each its own key, renewed on its own schedule, so that renewing or
    // revoking one device's certificate touches no other device.
    for (const identity of args.clients ?? []) {
      const key = new tls.PrivateKey(`${name}-client-${identity}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const request = new tls.CertRequest(
        `${name}-client-${identity}-csr`,
        { privateKeyPem: key.privateKeyPem, subject: { commonName: identity, organization: args.organization } },
        { parent: this },
      );
      const cert = new tls.LocallySignedCert(
        `${name}-client-${identity}-cert`,
        {
          certRequestPem: request.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: args.validityHours,
          earlyRenewalHours: args.earlyRenewalHours,
          setSubjectKeyId: true,
          allowedUses: ["digital_signature", "client_auth"],
        },
        { parent: this },
      );
      this.clients[identity] = { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPemPkcs8), notAfter: cert.validityEndTime };
    }
    this.registerOutputs({ caCertPem: this.caCertPem });
  }
}
