// Certificates made at test time (ECDSA P-256 like the stack's own CA, @peculiar/x509 on Node's
// WebCrypto), with the validity each test needs; no key material is committed.
import "reflect-metadata"; // required by @peculiar/x509 (tsyringe)
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
type KeyPair = webcrypto.CryptoKeyPair;

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const body = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key)).toString("base64").replace(/(.{64})/g, "$1\n").trim();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

let serial = 1;

export interface Ca {
  certPem: string;
  /** a server certificate for the names, valid from an hour ago for `validHours` */
  issue(names: { dns?: string[]; ips?: string[] }, validHours: number): Promise<{ certPem: string; keyPem: string; notAfter: Date }>;
}

export async function makeCa(commonName: string): Promise<Ca> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 400 * 24 * 3_600_000),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem"),
    async issue({ dns = [], ips = [] }, validHours) {
      const serverKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
      const notAfter = new Date(Math.floor((Date.now() + validHours * 3_600_000) / 1000) * 1000);
      const server = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, "0"),
        subject: `CN=${dns[0] ?? ips[0]}`,
        issuer: cert.subject,
        notBefore: new Date(now - 3_600_000),
        notAfter,
        signingKey: keys.privateKey,
        publicKey: serverKeys.publicKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))]),
        ],
      });
      return { certPem: server.toString("pem"), keyPem: await keyPem(serverKeys.privateKey), notAfter };
    },
  };
}
