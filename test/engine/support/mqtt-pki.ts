// Real certificates for the engine tier's MQTT run, in place of the mocked ones the program stages:
// a CA (ECDSA P-256 like the stack's, components/pki.ts), server certificates, client certificates
// with CN = identity and extended key usage clientAuth (the design's contract), and the CRL made by
// the program's own generateCrl (components/device-crl.ts). Fresh for each run; nothing committed.
import "reflect-metadata"; // @peculiar/x509 registers its algorithms with tsyringe
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { generateCrl } from "../../../components/device-crl";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
type KeyPair = webcrypto.CryptoKeyPair;

export interface Issued {
  certPem: string;
  keyPem: string;
}

export interface MqttTestCa {
  certPem: string;
  server(dns: string[], ips?: string[]): Promise<Issued>;
  client(commonName: string): Promise<Issued>;
  /** A CRL signed by this CA listing nothing: what the program stages when no device was revoked. */
  emptyCrl(): Promise<string>;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").trim()}\n-----END PRIVATE KEY-----\n`;
}

export async function createMqttTestCa(commonName: string): Promise<MqttTestCa> {
  let serial = 0x1000;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3_600_000);
  const caKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caKeyPem = await pkcs8Pem(caKeys.privateKey);

  const issue = async (subject: string, usage: string, names: Array<{ type: "dns" | "ip"; value: string }>): Promise<Issued> => {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16),
      subject: `CN=${subject}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      ],
    });
    return { certPem: cert.toString("pem"), keyPem: await pkcs8Pem(keys.privateKey) };
  };

  return {
    certPem: ca.toString("pem"),
    server: (dns, ips = []) =>
      issue(dns[0], x509.ExtendedKeyUsage.serverAuth, [...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))]),
    client: (cn) => issue(cn, x509.ExtendedKeyUsage.clientAuth, []),
    emptyCrl: () => generateCrl({ caCertPem: ca.toString("pem"), caKeyPkcs8Pem: caKeyPem, revoked: [], thisUpdate: new Date(Date.now() - 60_000) }),
  };
}
