// The device CRL: signed so that OpenSSL (what Mosquitto verifies with) accepts it and refuses
// exactly the revoked certificates, and kept across updates by the dynamic provider.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateFacts, generateCrl, nextRevocationState, revocationListProvider, type RevocationState } from "../../components/device-crl";

let dir: string;
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }).toString();
const read = (file: string) => readFileSync(join(dir, file), "utf8");

/** A client certificate for `cn`, signed by the test CA, valid for `days`. */
function issue(cn: string, days = 5): string {
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${cn}.key`);
  openssl("req", "-new", "-key", `${cn}.key`, "-subj", `/CN=${cn}`, "-out", `${cn}.csr`);
  openssl("x509", "-req", "-in", `${cn}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", String(days), "-out", `${cn}.pem`);
  return read(`${cn}.pem`);
}

/** openssl verify with CRL checking, as Mosquitto's crlfile makes OpenSSL do (X509_V_FLAG_CRL_CHECK). */
function verify(cn: string): { ok: boolean; output: string } {
  const result = spawnSync("openssl", ["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", `${cn}.pem`], { cwd: dir });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "device-crl-"));
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  openssl("pkcs8", "-topk8", "-nocrypt", "-in", "ca.key", "-out", "ca.pk8");
  openssl(
    "req", "-x509", "-new", "-key", "ca.key", "-subj", "/O=secure-iot test/CN=secure-iot test IoT stack CA", "-days", "30", "-out", "ca.pem",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "basicConstraints=critical,CA:true,pathlen:0",
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caInputs = () => ({ caCertPem: read("ca.pem"), caKeyPkcs8Pem: read("ca.pk8") });

test("a CRL OpenSSL accepts as the CA's, that refuses the revoked certificate and nothing else", async () => {
  const revokedCert = issue("dev-revoked");
  issue("dev-kept");
  const facts = certificateFacts(revokedCert);
  const pem = await generateCrl({
    ...caInputs(),
    revoked: [{ deviceId: "dev-revoked", ...facts, revokedAt: new Date().toISOString() }],
    thisUpdate: new Date(),
  });
  writeFileSync(join(dir, "crl.pem"), pem);
  // signed by the CA's key, issued in the CA's name
  expect(openssl("crl", "-in", "crl.pem", "-noout", "-CAfile", "ca.pem", "-verify")).toBe("");
  const text = openssl("crl", "-in", "crl.pem", "-noout", "-text");
  expect(text).toContain(`Serial Number: ${facts.serialNumber}`);
  // nextUpdate is the CA's expiry, not a date after which every device would be refused
  const caNotAfter = new Date(openssl("x509", "-in", "ca.pem", "-noout", "-enddate").trim().replace("notAfter=", ""));
  const nextUpdate = new Date(/Next Update: (.*)/.exec(text)![1]);
  expect(nextUpdate.getTime()).toBe(caNotAfter.getTime());

  const revoked = verify("dev-revoked");
  expect(revoked.ok).toBe(false);
  expect(revoked.output).toContain("certificate revoked");
  expect(verify("dev-kept")).toEqual({ ok: true, output: expect.stringContaining("OK") });
});

test("an empty CRL (no device revoked yet) lets every certificate of the CA through", async () => {
  issue("dev-fresh");
  writeFileSync(join(dir, "crl.pem"), await generateCrl({ ...caInputs(), revoked: [], thisUpdate: new Date() }));
  expect(verify("dev-fresh").ok).toBe(true);
});

describe("which certificates are revoked after an update", () => {
  const now = new Date("2026-12-06T12:00:00Z");
  const cert = (serialNumber: string, expiresAt = "2027-12-01T00:00:00.000Z") => ({ serialNumber, expiresAt });
  const before: RevocationState = { issued: { a: [cert("0A")], b: [cert("0B")] }, revoked: [] };
  const current = { a: cert("0A"), b: cert("0B") };

  test("nothing changed: nothing revoked, nothing forgotten", () => {
    expect(nextRevocationState(before, current, now)).toEqual(before);
  });
  test("a device removed from the setting: its certificate", () => {
    expect(nextRevocationState(before, { a: cert("0A") }, now).revoked).toEqual([
      { deviceId: "b", serialNumber: "0B", revokedAt: now.toISOString(), expiresAt: "2027-12-01T00:00:00.000Z" },
    ]);
  });
  test("a certificate renewed early: nothing revoked, so the device's installed certificate works until it is replaced", () => {
    const next = nextRevocationState(before, { a: cert("0A"), b: cert("1B") }, now);
    expect(next.revoked).toEqual([]);
    expect(next.issued.b.map((c) => c.serialNumber)).toEqual(["0B", "1B"]);
  });
  test("a renewed device removed later: the old certificate is revoked with the new one", () => {
    const renewed = nextRevocationState(before, { a: cert("0A"), b: cert("1B") }, now);
    expect(nextRevocationState(renewed, { a: cert("0A") }, now).revoked.map((r) => r.serialNumber)).toEqual(["0B", "1B"]);
  });
  test("earlier revocations stay until the certificate expires, then go; so do expired issued certificates", () => {
    const earlier = { deviceId: "c", serialNumber: "0C", revokedAt: "2026-01-01T00:00:00.000Z", expiresAt: "2026-12-07T00:00:00.000Z" };
    const expired = { ...earlier, serialNumber: "0D", expiresAt: "2026-12-05T00:00:00.000Z" };
    const withOld = { ...before, issued: { ...before.issued, a: [cert("09", "2026-12-01T00:00:00.000Z"), cert("0A")] }, revoked: [earlier, expired] };
    const next = nextRevocationState(withOld, current, now);
    expect(next.revoked).toEqual([earlier]);
    expect(next.issued.a).toEqual([cert("0A")]);
  });
});

test("the provider remembers a removed device's certificate across updates and re-signs only on a change", async () => {
  const a = issue("dev-prov-a");
  const b = issue("dev-prov-b");
  const created = await revocationListProvider.create!({ ...caInputs(), certificates: { a, b } });
  expect(created.outs.revoked).toEqual([]);
  const same = await revocationListProvider.diff!("device-crl", created.outs, { ...caInputs(), certificates: { b, a } });
  expect(same.changes).toBe(false);
  const removed = { ...caInputs(), certificates: { a } };
  expect((await revocationListProvider.diff!("device-crl", created.outs, removed)).changes).toBe(true);
  const updated = await revocationListProvider.update!("device-crl", created.outs, removed);
  expect(updated.outs!.revoked.map((r: { deviceId: string }) => r.deviceId)).toEqual(["b"]);
  writeFileSync(join(dir, "crl.pem"), updated.outs!.crlPem);
  expect(verify("dev-prov-b").ok).toBe(false);
  expect(verify("dev-prov-a").ok).toBe(true);
  // a later update that does not bring b back keeps it revoked; adding a device revokes nothing,
  // so the CRL (a file of the broker's) stays byte for byte the same and the broker is not replaced
  const again = await revocationListProvider.update!("device-crl", updated.outs, { ...caInputs(), certificates: { a, c: issue("dev-prov-c") } });
  expect(again.outs!.revoked.map((r: { deviceId: string }) => r.deviceId)).toEqual(["b"]);
  expect(again.outs!.crlPem).toBe(updated.outs!.crlPem);
});

test("the provider survives Pulumi's closure serialization: the serialized code alone signs a CRL", async () => {
  // What pulumi.dynamic.Resource stores in the state and the engine runs later (@pulumi/pulumi
  // dynamic/index.js serializeProvider): the provider and everything it captures, as source text.
  const { runtime } = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const serialized = await runtime.serializeFunction(() => revocationListProvider, { allowSecrets: false });
  // In the project, as the engine runs it there: the provider's requires resolve from its node_modules.
  const cache = join(__dirname, "..", "..", ".cache");
  mkdirSync(cache, { recursive: true });
  const where = mkdtempSync(join(cache, "serialized-provider-"));
  const file = join(where, "provider.js");
  writeFileSync(file, serialized.text);
  try {
    const factory = require(file)[serialized.exportName] as () => typeof revocationListProvider;
    const created = await factory().create!({ ...caInputs(), certificates: { a: issue("dev-serialized-a") } });
    writeFileSync(join(dir, "crl.pem"), created.outs.crlPem);
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
  expect(verify("dev-serialized-a").ok).toBe(true);
});
