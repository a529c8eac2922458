import { isSecret, ofType, one, runUnderMocks } from "../support/harness";

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
