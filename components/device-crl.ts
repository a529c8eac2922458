// The stack CA's certificate revocation list for device certificates, and the Pulumi resource that
// keeps it: the list of revoked serials has to outlive the devices it names.
//
// Why a CRL at all: the broker takes a device's identity from its client certificate
// (use_identity_as_username), and with that Mosquitto 2.0 makes no password or plugin check at
// CONNECT, so the only way to refuse a certificate that the stack CA signed and that has not
// expired is to revoke it. Why a resource of its own: when a device is removed from the `devices`
// setting, Pulumi deletes its certificate resources, and the program no longer knows that
// certificate's serial; this resource remembers every serial it has seen issued (its state), so the
// next `up` adds the removed device's certificates to the list. A certificate renewed early is not
// revoked: the device keeps using it until its new one is installed (docs/DEVICES.md, "Rotate a certificate").
//
// The CRL's nextUpdate is the CA certificate's own expiry: OpenSSL refuses every certificate once a
// CRL's nextUpdate has passed (X509_V_ERR_CRL_HAS_EXPIRED), and nothing here re-signs the list on a
// schedule, so a short nextUpdate would lock every device out.
import { X509Certificate as NodeX509Certificate, webcrypto } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export interface RevokedCertificate {
  /** the device id the certificate was issued to */
  deviceId: string;
  /** hexadecimal, upper case, as node:crypto prints it */
  serialNumber: string;
  /** RFC 3339 */
  revokedAt: string;
  /** RFC 3339: the certificate's own notAfter; past it the entry can go, the certificate is refused anyway */
  expiresAt: string;
}

export interface CrlInput {
  caCertPem: string;
  /** the CA's private key, PKCS#8 PEM */
  caKeyPkcs8Pem: string;
  revoked: readonly RevokedCertificate[];
  thisUpdate: Date;
}

/** A CRL (PEM) signed by the CA with ECDSA-SHA256; nextUpdate is the CA certificate's notAfter. */
export async function generateCrl(input: CrlInput): Promise<string> {
  // Loaded here, not at the top: the dynamic provider below is serialized into the state with
  // this function, and a require inside the function body is what Pulumi's closure serializer keeps.
  // @peculiar/x509 registers its algorithms with tsyringe, which needs the Reflect metadata polyfill first.
  require("reflect-metadata");
  const x509 = require("@peculiar/x509") as typeof import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const ca = new x509.X509Certificate(input.caCertPem);
  const keyDer = x509.PemConverter.decodeFirst(input.caKeyPkcs8Pem);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const signingKey = await webcrypto.subtle.importKey("pkcs8", keyDer, algorithm, false, ["sign"]);
  const crl = await x509.X509CrlGenerator.create({
    // The CA's subject exactly as encoded in its certificate: OpenSSL finds a CRL by issuer name.
    issuer: ca.subjectName,
    thisUpdate: input.thisUpdate,
    nextUpdate: ca.notAfter,
    signingAlgorithm: algorithm,
    signingKey: signingKey as unknown as Parameters<typeof x509.X509CrlGenerator.create>[0]["signingKey"],
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca)],
    entries: input.revoked.map((entry) => ({
      serialNumber: entry.serialNumber,
      revocationDate: new Date(entry.revokedAt),
      reason: x509.X509CrlReason.cessationOfOperation,
    })),
  });
  // "X509 CRL" is the PEM label OpenSSL reads (RFC 7468, section 9); the library's own says "CRL".
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

/** Serial (hex, upper case) and notAfter (RFC 3339) of a certificate. */
export function certificateFacts(certPem: string): { serialNumber: string; expiresAt: string } {
  const cert = new NodeX509Certificate(certPem);
  return { serialNumber: cert.serialNumber.toUpperCase(), expiresAt: new Date(cert.validTo).toISOString() };
}

export interface IssuedCertificate {
  serialNumber: string;
  expiresAt: string;
}

export interface RevocationState {
  /** device id → every certificate issued to it that has not expired (the current one and those it replaced) */
  issued: Record<string, IssuedCertificate[]>;
  revoked: RevokedCertificate[];
}

/**
 * The state after an update. A device that is still declared keeps every certificate it was
 * issued until each expires: a renewal (certEarlyRenewalHours) must leave the device's installed
 * certificate working until the new one is on the device. A device no longer declared has all of
 * its certificates revoked, the current one and any earlier one that has not expired yet.
 * Entries leave the list when their certificate expires: it is refused then anyway.
 */
export function nextRevocationState(before: RevocationState, current: Record<string, IssuedCertificate>, now: Date): RevocationState {
  const alive = (c: { expiresAt: string }) => new Date(c.expiresAt) > now;
  const issued: RevocationState["issued"] = {};
  for (const [deviceId, cert] of Object.entries(current)) {
    const known = (before.issued[deviceId] ?? []).filter((c) => c.serialNumber !== cert.serialNumber);
    issued[deviceId] = [...known, cert].filter(alive);
  }
  const revoked = new Map(before.revoked.map((entry) => [entry.serialNumber, entry]));
  for (const [deviceId, certs] of Object.entries(before.issued)) {
    if (deviceId in current) continue;
    for (const cert of certs) {
      if (!revoked.has(cert.serialNumber)) revoked.set(cert.serialNumber, { deviceId, ...cert, revokedAt: now.toISOString() });
    }
  }
  const stillIssued = new Set(Object.values(issued).flatMap((certs) => certs.map((c) => c.serialNumber)));
  return {
    issued,
    revoked: [...revoked.values()].filter((entry) => alive(entry) && !stillIssued.has(entry.serialNumber)).sort((a, b) => a.serialNumber.localeCompare(b.serialNumber)),
  };
}

interface ProviderInputs {
  caCertPem: string;
  caKeyPkcs8Pem: string;
  /** device id → certificate PEM */
  certificates: Record<string, string>;
}

interface ProviderOutputs extends ProviderInputs, RevocationState {
  crlPem: string;
}

async function outputsFor(inputs: ProviderInputs, before: RevocationState & { crlPem?: string; caCertPem?: string }): Promise<ProviderOutputs> {
  const now = new Date();
  const current = Object.fromEntries(Object.entries(inputs.certificates).map(([id, pem]) => [id, certificateFacts(pem)]));
  const next = nextRevocationState(before, current, now);
  // Re-signed only when the list or the CA changed: the CRL is a file of the broker's, and a new
  // one replaces the broker (every device reconnects), which a renewal or an added device does not need.
  const unchanged = before.crlPem !== undefined && before.caCertPem === inputs.caCertPem && JSON.stringify(before.revoked) === JSON.stringify(next.revoked);
  const crlPem = unchanged
    ? before.crlPem!
    : await generateCrl({ caCertPem: inputs.caCertPem, caKeyPkcs8Pem: inputs.caKeyPkcs8Pem, revoked: next.revoked, thisUpdate: now });
  return { ...inputs, ...next, crlPem };
}

/**
 * The provider: create signs an empty list; update re-signs only when the issued certificates or
 * the CA changed (diff), so an `up` without such a change leaves the CRL, and so the broker, alone.
 */
export const revocationListProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ProviderInputs) {
    return { id: "device-crl", outs: await outputsFor(inputs, { issued: {}, revoked: [] }) };
  },
  async diff(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    const changed =
      olds.caCertPem !== news.caCertPem ||
      olds.caKeyPkcs8Pem !== news.caKeyPkcs8Pem ||
      JSON.stringify(Object.entries(olds.certificates).sort()) !== JSON.stringify(Object.entries(news.certificates).sort());
    return { changes: changed, replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    return { outs: await outputsFor(news, { issued: olds.issued ?? {}, revoked: olds.revoked ?? [], crlPem: olds.crlPem, caCertPem: olds.caCertPem }) };
  },
};

export interface DeviceRevocationListArgs {
  caCertPem: pulumi.Input<string>;
  /** secret */
  caKeyPkcs8Pem: pulumi.Input<string>;
  /** the client certificate of every device declared now, by device id */
  certificates: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The CRL the broker loads (crlfile), kept in step with the declared devices. */
export class DeviceRevocationList extends pulumi.dynamic.Resource {
  declare readonly crlPem: pulumi.Output<string>;
  declare readonly revoked: pulumi.Output<RevokedCertificate[]>;

  constructor(name: string, args: DeviceRevocationListArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      revocationListProvider,
      name,
      { ...args, crlPem: undefined, revoked: undefined, issued: undefined },
      // The CA key is an input, so Pulumi stores it with the resource's state: kept secret there.
      { ...opts, additionalSecretOutputs: ["caKeyPkcs8Pem"] },
    );
  }
}
