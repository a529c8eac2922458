// The MQTT tier's certificates, made fresh for each test file with @peculiar/x509 on Node's
// WebCrypto, in the shapes the design gives the stack's own (ECDSA P-256): a CA that can sign a CRL
// (its key exported as PKCS#8, which components/device-crl.ts's generateCrl takes), the broker's
// server certificate, and one client certificate per identity with CN = the identity and extended
// key usage clientAuth. A client certificate's validity can be set, so a test can make an expired one.
import "reflect-metadata"; // required by @peculiar/x509 (tsyringe)
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const HOUR = 3_600_000;

export interface Identity {
  certPem: string;
  keyPem: string;
  /** hexadecimal, upper case, as node:crypto prints it (and generateCrl expects) */
  serialNumber: string;
  notAfter: Date;
}

export interface Ca {
  certPem: string;
  /** PKCS#8 PEM, for generateCrl */
  keyPem: string;
  server(o: { dns: string[]; ips: string[] }): Promise<Identity>;
  client(commonName: string, validity?: { notBefore: Date; notAfter: Date }): Promise<Identity>;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const body = der.toString("base64").replace(/(.{64})/g, "$1\n").trim();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/** A random positive 16-byte serial, as a CA that issues many certificates would use. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  bytes[0] |= 0x10; // no leading zero byte, so the hex form node:crypto prints is the same 32 digits
  return bytes.toString("hex").toUpperCase();
}

export async function createCa(commonName: string): Promise<Ca> {
  const now = Date.now();
  const caKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 24 * HOUR),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const issue = async (subject: string, usage: string, names: x509.JsonGeneralNames, validity: { notBefore: Date; notAfter: Date }): Promise<Identity> => {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const serialNumber = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${subject}`,
      issuer: caCert.subject,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      ],
    });
    return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey), serialNumber, notAfter: validity.notAfter };
  };
  const defaultValidity = () => ({ notBefore: new Date(now - HOUR), notAfter: new Date(now + 12 * HOUR) });
  return {
    certPem: caCert.toString("pem"),
    keyPem: await privateKeyPem(caKeys.privateKey),
    server: ({ dns, ips }) =>
      issue(dns[0] ?? ips[0], x509.ExtendedKeyUsage.serverAuth, [...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))], defaultValidity()),
    client: (commonName, validity = defaultValidity()) => issue(commonName, x509.ExtendedKeyUsage.clientAuth, [], validity),
  };
}
