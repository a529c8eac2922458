import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * A device id (the stack's rule, shared by the `devices` setting, the broker's ACL and the
 * certificates' CN): 1-63 characters, lower-case letters, digits and "-", not starting with "-".
 * Safe in an MQTT topic level, a file name, a line-protocol tag value and a certificate CN.
 */
export const DEVICE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface DeviceIdentity {
  id: string;
  certPem: string;
  keyPem: string;
}

/**
 * Reads MQTT_IDENTITY_DIR: one `<id>.crt` (the device's client certificate, PEM) and `<id>.key`
 * (its private key, PEM) per simulated device; the ids are the file names, sorted. Other files
 * (and dot files, such as the `..data` links of a mounted secret) are ignored. Returns the
 * identities, or one line saying what is wrong, naming the variable and the file.
 */
export function readIdentityDir(dir: string): DeviceIdentity[] | string {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => !name.startsWith("."));
  } catch (error) {
    return `MQTT_IDENTITY_DIR cannot be read (${dir}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  const certs = new Set(names.filter((name) => name.endsWith(".crt")).map((name) => name.slice(0, -".crt".length)));
  const keys = new Set(names.filter((name) => name.endsWith(".key")).map((name) => name.slice(0, -".key".length)));
  if (certs.size === 0 && keys.size === 0) return `MQTT_IDENTITY_DIR holds no device identity (${dir}): put <id>.crt and <id>.key there, one pair per device`;
  for (const id of [...certs, ...keys]) {
    if (!DEVICE_ID.test(id)) {
      return `MQTT_IDENTITY_DIR: "${id}" is not a device id (1-63 characters of a-z 0-9 -, not starting with -) in ${dir}`;
    }
  }
  for (const id of certs) if (!keys.has(id)) return `MQTT_IDENTITY_DIR: ${id}.crt has no ${id}.key in ${dir}`;
  for (const id of keys) if (!certs.has(id)) return `MQTT_IDENTITY_DIR: ${id}.key has no ${id}.crt in ${dir}`;

  const identities: DeviceIdentity[] = [];
  for (const id of [...certs].sort()) {
    const certFile = join(dir, `${id}.crt`);
    const keyFile = join(dir, `${id}.key`);
    let certPem: string;
    let keyPem: string;
    try {
      certPem = readFileSync(certFile, "utf8");
      keyPem = readFileSync(keyFile, "utf8");
    } catch (error) {
      const err = error as NodeJS.ErrnoException;
      return `MQTT_IDENTITY_DIR: cannot read ${err.path ?? certFile}: ${err.code ?? String(error)}`;
    }
    // Checked here rather than left to the broker: a certificate for another name would connect and
    // then be denied every publish (the broker takes the username from the CN), a key of another
    // certificate would fail each TLS handshake; both are mistakes in the files, not outages.
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      return `MQTT_IDENTITY_DIR: ${certFile} is not a PEM certificate`;
    }
    const commonNames = cert.subject.split("\n").filter((part) => part.startsWith("CN=")).map((part) => part.slice(3));
    if (commonNames.length !== 1 || commonNames[0] !== id) {
      return `MQTT_IDENTITY_DIR: ${certFile} is issued to ${JSON.stringify(commonNames.join(",") || cert.subject)}, not to CN=${id}`;
    }
    try {
      if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return `MQTT_IDENTITY_DIR: ${keyFile} is not the private key of ${certFile}`;
    } catch {
      return `MQTT_IDENTITY_DIR: ${keyFile} is not a PEM private key`;
    }
    identities.push({ id, certPem, keyPem });
  }
  return identities;
}
