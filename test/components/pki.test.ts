import { MOCK_NOT_AFTER, isSecret, ofType, one, resolve, runUnderMocks } from "../support/harness";

test("Pki alone: an ECDSA P-256 CA that only signs, and a server certificate per service with its SANs", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Pki } = require("../../components/pki");
    const pki = new Pki("pki", {
      organization: "test",
      validityHours: 720,
      earlyRenewalHours: 48,
      servers: {
        influxdb: { dnsNames: ["influxdb", "localhost"], ipAddresses: ["127.0.0.1"] },
        grafana: { dnsNames: ["grafana.example", "grafana"], ipAddresses: ["192.0.2.1"] },
      },
    });
    return { ca: pki.caCertPem, influxKey: pki.servers.influxdb.privateKeyPem, grafanaCert: pki.servers.grafana.certPem };
  });
  for (const key of ofType(run, "tls:index/privateKey:PrivateKey")) {
    expect(key.inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  }
  expect(ofType(run, "tls:index/privateKey:PrivateKey")).toHaveLength(3);
  const ca = one(run, "tls:index/selfSignedCert:SelfSignedCert", "pki-ca").inputs;
  expect(ca).toMatchObject({ isCaCertificate: true, maxPathLength: 0, validityPeriodHours: 720, earlyRenewalHours: 48 });
  expect(ca.allowedUses.sort()).toEqual(["cert_signing", "crl_signing"]);

  const influxCsr = one(run, "tls:index/certRequest:CertRequest", "pki-influxdb-csr").inputs;
  expect(influxCsr.dnsNames).toEqual(["influxdb", "localhost"]);
  expect(influxCsr.ipAddresses).toEqual(["127.0.0.1"]);
  const grafanaCsr = one(run, "tls:index/certRequest:CertRequest", "pki-grafana-csr").inputs;
  expect(grafanaCsr.dnsNames).toEqual(["grafana.example", "grafana"]);
  expect(grafanaCsr.subject.commonName).toBe("grafana.example");

  const leaf = one(run, "tls:index/locallySignedCert:LocallySignedCert", "pki-influxdb-cert").inputs;
  expect(leaf.caCertPem).toContain("MOCK-CERT-pki-ca");
  expect(leaf.caPrivateKeyPem).toContain("MOCK-KEY-pki-ca-key");
  expect(leaf.allowedUses.sort()).toEqual(["digital_signature", "key_encipherment", "server_auth"]);
  expect(leaf).toMatchObject({ validityPeriodHours: 720, earlyRenewalHours: 48 });
  // not a CA, cannot sign
  expect(leaf.allowedUses).not.toContain("cert_signing");

  expect(await isSecret(run.pulumi, run.exports.influxKey)).toBe(true);
  expect(await isSecret(run.pulumi, run.exports.ca)).toBe(false);
});

test("Pki alone: a client certificate per identity, CN = the identity, client auth only, the same validity; keys PKCS#8 and secret", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Pki } = require("../../components/pki");
    const pki = new Pki("pki", { organization: "test", validityHours: 720, earlyRenewalHours: 48, servers: {}, clients: ["pump-7", "bridge"] });
    return {
      pumpKey: pki.clients["pump-7"].privateKeyPem,
      pumpCert: pki.clients["pump-7"].certPem,
      pumpNotAfter: pki.clients["pump-7"].notAfter,
      caKey: pki.caPrivateKeyPkcs8Pem,
    };
  });
  expect(ofType(run, "tls:index/locallySignedCert:LocallySignedCert").map((c) => c.name).sort()).toEqual(["pki-client-bridge-cert", "pki-client-pump-7-cert"]);
  for (const id of ["pump-7", "bridge"]) {
    expect(one(run, "tls:index/privateKey:PrivateKey", `pki-client-${id}-key`).inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    const csr = one(run, "tls:index/certRequest:CertRequest", `pki-client-${id}-csr`).inputs;
    expect(csr.subject).toEqual({ commonName: id, organization: "test" });
    expect(csr.privateKeyPem).toContain(`MOCK-KEY-pki-client-${id}-key`);
    const cert = one(run, "tls:index/locallySignedCert:LocallySignedCert", `pki-client-${id}-cert`).inputs;
    expect(cert.allowedUses).toEqual(["digital_signature", "client_auth"]);
    expect(cert).toMatchObject({ validityPeriodHours: 720, earlyRenewalHours: 48 });
    expect(cert.caPrivateKeyPem).toContain("MOCK-KEY-pki-ca-key");
  }
  expect(await isSecret(run.pulumi, run.exports.pumpKey)).toBe(true);
  expect(await isSecret(run.pulumi, run.exports.caKey)).toBe(true);
  expect(await isSecret(run.pulumi, run.exports.pumpCert)).toBe(false);
  expect(await resolve(run.pulumi, run.exports.pumpKey)).toContain("BEGIN PRIVATE KEY");
  expect(await resolve(run.pulumi, run.exports.pumpKey)).toContain("MOCK-PKCS8-KEY-pki-client-pump-7-key");
  expect(await resolve(run.pulumi, run.exports.caKey)).toContain("MOCK-PKCS8-KEY-pki-ca-key");
  expect(await resolve(run.pulumi, run.exports.pumpNotAfter)).toBe(MOCK_NOT_AFTER);
});

test("Pki alone: no clients, no client certificates", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Pki } = require("../../components/pki");
    new Pki("pki", { organization: "test", validityHours: 720, earlyRenewalHours: 48, servers: {} });
    return {};
  });
  expect(ofType(run, "tls:index/locallySignedCert:LocallySignedCert")).toEqual([]);
  expect(ofType(run, "tls:index/privateKey:PrivateKey").map((k) => k.name)).toEqual(["pki-ca-key"]);
});
