// npm run verify: each check's decision on recorded answers (docker inspect of containers made on
// Docker Engine 20.10, Grafana answers in its data frame format, certificates made here and served
// over real TLS), then a whole run against a stand-in Grafana over HTTPS with stand-in
// `pulumi` and `docker` answers. See fixtures/README.md for where each answer comes from.
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { join } from "node:path";
import { stackFileConfig, type Exec } from "../../tools/common";
import {
  basicAuth,
  brokerAddress,
  type BrokerTlsProbe,
  checkBrokerTls,
  checkCertificate,
  checkContainers,
  checkFreshData,
  checkLogin,
  checkPublishedPorts,
  checkSimulatorLog,
  type DeviceExpectation,
  deviceExpectation,
  expectedPorts,
  freshDataQuery,
  freshnessWindowMs,
  type HttpAnswer,
  type Inspect,
  mergeConfig,
  parseArgs,
  probeBrokerTls,
  probeTls,
  request,
  runVerify,
  stackServices,
} from "../../tools/verify";
import { loadSettings } from "../../settings";
import { ROOT } from "../support/harness";
import { makeCa } from "./support/certs";

const recorded = (kind: string): Inspect => JSON.parse(readFileSync(join(__dirname, "fixtures", `docker-inspect-${kind}.json`), "utf8"))[0];
/** A recorded container under another name, optionally changed. */
function container(kind: string, name: string, change: (c: any) => void = () => {}): Inspect {
  const c: any = structuredClone(recorded(kind));
  c.Name = `/${name}`;
  change(c);
  return c;
}
const HEALTHY_SIMULATOR = (c: any) => {
  c.State.Health.Log.push({ Start: "2026-11-26T08:14:30Z", End: "2026-11-26T08:14:30Z", ExitCode: 0, Output: "healthy: last successful write 812 ms ago\n" });
};
const settingsOf = (stack: string, overrides: Record<string, string> = {}) =>
  loadSettings({ ...stackFileConfig(stack), ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [`secure-iot:${k}`, v])) }, stack);
/** The dev stack as it was before MQTT: no devices, no simulated MQTT devices, so no broker and no bridge. */
const NO_MQTT = { simMqttDevices: "0", devices: "[]" };
const SIM_MQTT = ["sim-mqtt-001", "sim-mqtt-002", "sim-mqtt-003"];

describe("containers (docker inspect recorded on Engine 20.10)", () => {
  const stackOk = () => [
    container("healthy", "iot-dev-influxdb"),
    container("healthy", "iot-dev-grafana"),
    container("healthy", "iot-dev-simulator", HEALTHY_SIMULATOR),
    container("loader", "iot-dev-influxdb-files-loader"),
    container("loader", "iot-dev-grafana-files-loader"),
  ];

  test("every service running, healthy, never restarted, loaders never started: pass", () => {
    expect(checkContainers(stackOk(), "iot-dev")).toMatchObject({
      status: "pass",
      summary: "3 services running, healthy and never restarted; 2 file loaders created, never started",
    });
  });

  test("a service that restarted until it gave up: fail, with its state and restart count", () => {
    const c = stackOk();
    c[0] = container("restarting", "iot-dev-influxdb");
    expect(checkContainers(c, "iot-dev")).toMatchObject({
      status: "fail",
      summary: "iot-dev-influxdb: not running (exited, exit code 1); no health check; restarted 5 times since it was created",
    });
  });

  test("an unhealthy service: fail, with the last health check's output", () => {
    const c = stackOk();
    c[1] = container("unhealthy", "iot-dev-grafana", (x) => {
      x.State.Health.Log.at(-1).Output = "curl: (7) Failed to connect to localhost port 3000\n";
    });
    expect(checkContainers(c, "iot-dev").summary).toBe("iot-dev-grafana: health unhealthy (last check: curl: (7) Failed to connect to localhost port 3000)");
  });

  test("running and healthy but restarted once: still a failure (something crashed)", () => {
    const c = stackOk();
    c[2] = container("healthy", "iot-dev-simulator", (x) => (x.RestartCount = 1));
    expect(checkContainers(c, "iot-dev")).toMatchObject({ status: "fail", summary: "iot-dev-simulator: restarted 1 time since it was created" });
  });

  test("a missing service, a started loader and a stranger with the stack's prefix: each named", () => {
    const c = stackOk().filter((x) => x.Name !== "/iot-dev-simulator");
    c.push(container("healthy", "iot-dev-simulator-files-loader"), container("healthy", "iot-dev-debug"));
    expect(checkContainers(c, "iot-dev").summary).toBe(
      "iot-dev-simulator: no such container; iot-dev-simulator-files-loader: a file loader that was started (loaders are only ever created); iot-dev-debug: not a container of the stack (running)",
    );
  });

  describe("with MQTT devices", () => {
    const mqttStack = () => [
      ...stackOk(),
      container("healthy", "iot-dev-broker"),
      container("healthy", "iot-dev-bridge"),
      container("healthy", "iot-dev-mqtt-simulator", HEALTHY_SIMULATOR),
      container("loader", "iot-dev-broker-files-loader"),
      container("loader", "iot-dev-bridge-files-loader"),
      container("loader", "iot-dev-mqtt-simulator-files-loader"),
    ];

    test("which services a configuration deploys: the broker and bridge with any MQTT device, the MQTT simulator only with simMqttDevices > 0", () => {
      expect(stackServices(settingsOf("dev"))).toEqual(["influxdb", "grafana", "simulator", "broker", "bridge", "mqtt-simulator"]);
      expect(stackServices(settingsOf("dev", { simMqttDevices: "0", devices: '["pump-7"]' }))).toEqual(["influxdb", "grafana", "simulator", "broker", "bridge"]);
      expect(stackServices(settingsOf("dev", NO_MQTT))).toEqual(["influxdb", "grafana", "simulator"]);
    });

    test("the dev stack (simMqttDevices 3): broker, bridge and MQTT simulator running, healthy, never restarted: pass", () => {
      const result = checkContainers(mqttStack(), "iot-dev", stackServices(settingsOf("dev")));
      expect(result).toMatchObject({ status: "pass", summary: "6 services running, healthy and never restarted; 5 file loaders created, never started" });
      expect(result.details).toContain("iot-dev-broker: running, healthy, never restarted");
    });

    test("a bridge that restarted, an unhealthy broker, a missing MQTT simulator: each named, like the other services", () => {
      const c = mqttStack().filter((x) => x.Name !== "/iot-dev-mqtt-simulator");
      c[5] = container("healthy", "iot-dev-broker", (x) => {
        x.State.Health.Status = "unhealthy";
        x.State.Health.Log.at(-1).Output = "Error: Connection refused\n";
      });
      c[6] = container("healthy", "iot-dev-bridge", (x) => (x.RestartCount = 3));
      expect(checkContainers(c, "iot-dev", stackServices(settingsOf("dev"))).summary).toBe(
        "iot-dev-broker: health unhealthy (last check: Error: Connection refused); iot-dev-bridge: restarted 3 times since it was created; iot-dev-mqtt-simulator: no such container",
      );
    });

    test("a stack without MQTT devices: a broker, bridge or MQTT simulator left running is not a container of the stack", () => {
      expect(checkContainers(mqttStack(), "iot-dev", stackServices(settingsOf("dev", NO_MQTT))).summary).toBe(
        "iot-dev-broker: not a container of the stack (running); iot-dev-bridge: not a container of the stack (running); iot-dev-mqtt-simulator: not a container of the stack (running)",
      );
    });

    test("devices declared and simMqttDevices 0: an MQTT simulator left running is not a container of the stack", () => {
      const result = checkContainers(mqttStack(), "iot-dev", stackServices(settingsOf("dev", { simMqttDevices: "0", devices: '["pump-7"]' })));
      expect(result.summary).toBe("iot-dev-mqtt-simulator: not a container of the stack (running)");
    });
  });
});

describe("published ports", () => {
  const grafanaOn = (ip: string, port: string) => (x: any) => (x.NetworkSettings.Ports = { "3000/tcp": [{ HostIp: ip, HostPort: port }] });
  const stack = (influx: Inspect) => [influx, container("loader", "iot-dev-grafana", grafanaOn("127.0.0.1", "3000")), container("loader", "iot-dev-simulator")];

  test("the dev stack without MQTT devices: InfluxDB not published, Grafana on 127.0.0.1:3000, the simulator not published", () => {
    const result = checkPublishedPorts(stack(container("unhealthy", "iot-dev-influxdb")), expectedPorts(settingsOf("dev", NO_MQTT)));
    expect(result).toMatchObject({ status: "pass" });
    expect(result.details).toEqual(["iot-dev-influxdb: nothing published", "iot-dev-grafana: 3000/tcp on 127.0.0.1:3000", "iot-dev-simulator: nothing published"]);
  });

  test("InfluxDB published although influxPublishPort is false: fail, naming the binding", () => {
    const result = checkPublishedPorts(stack(container("healthy", "iot-dev-influxdb")), expectedPorts(settingsOf("dev", NO_MQTT)));
    expect(result).toMatchObject({ status: "fail", summary: "iot-dev-influxdb is published beyond the configuration: 8086/tcp on 127.0.0.1:18086" });
  });

  test("InfluxDB published on 127.0.0.1:<influxHostPort> when the configuration says so: pass", () => {
    const settings = settingsOf("dev", { ...NO_MQTT, influxPublishPort: "true", influxHostPort: "18086" });
    expect(checkPublishedPorts(stack(container("healthy", "iot-dev-influxdb")), expectedPorts(settings)).status).toBe("pass");
  });

  test("published on every address (0.0.0.0 and ::, as Docker records a binding without an address): fail", () => {
    const settings = settingsOf("dev", { ...NO_MQTT, influxPublishPort: "true", influxHostPort: "18087" });
    const result = checkPublishedPorts(stack(container("everywhere", "iot-dev-influxdb")), expectedPorts(settings));
    expect(result.summary).toBe(
      "iot-dev-influxdb is published beyond the configuration: 8086/tcp on 0.0.0.0:18087, 8086/tcp on :::18087; iot-dev-influxdb is not published as configured: 8086/tcp on 127.0.0.1:18087 missing",
    );
  });

  test("Grafana on another address or port than configured: fail", () => {
    const c = stack(container("unhealthy", "iot-dev-influxdb"));
    c[1] = container("loader", "iot-dev-grafana", grafanaOn("0.0.0.0", "3000"));
    expect(checkPublishedPorts(c, expectedPorts(settingsOf("dev", NO_MQTT))).summary).toMatch(/^iot-dev-grafana is published beyond the configuration: 3000\/tcp on 0\.0\.0\.0:3000; iot-dev-grafana is not published as configured/);
  });

  describe("with MQTT devices", () => {
    const brokerOn = (ip: string, port: string) => (x: any) => (x.NetworkSettings.Ports = { "8883/tcp": [{ HostIp: ip, HostPort: port }] });
    const mqttStack = (broker: Inspect) => [
      ...stack(container("unhealthy", "iot-dev-influxdb")),
      broker,
      container("loader", "iot-dev-bridge"),
      container("loader", "iot-dev-mqtt-simulator"),
    ];

    test("the shipped dev stack: the broker on 127.0.0.1:8883 only, the bridge and the MQTT simulator not published", () => {
      const result = checkPublishedPorts(mqttStack(container("loader", "iot-dev-broker", brokerOn("127.0.0.1", "8883"))), expectedPorts(settingsOf("dev")));
      expect(result).toMatchObject({ status: "pass" });
      expect(result.details!.slice(3)).toEqual(["iot-dev-broker: 8883/tcp on 127.0.0.1:8883", "iot-dev-bridge: nothing published", "iot-dev-mqtt-simulator: nothing published"]);
    });

    test("the broker on mqttBindAddress:mqttPort when they are changed: pass; on the old address: fail", () => {
      const settings = settingsOf("dev", { mqttBindAddress: "192.168.1.10", mqttPort: "18883" });
      expect(checkPublishedPorts(mqttStack(container("loader", "iot-dev-broker", brokerOn("192.168.1.10", "18883"))), expectedPorts(settings)).status).toBe("pass");
      expect(checkPublishedPorts(mqttStack(container("loader", "iot-dev-broker", brokerOn("127.0.0.1", "8883"))), expectedPorts(settings)).summary).toBe(
        "iot-dev-broker is published beyond the configuration: 8883/tcp on 127.0.0.1:8883; iot-dev-broker is not published as configured: 8883/tcp on 192.168.1.10:18883 missing",
      );
    });

    test("the broker on every address although mqttBindAddress is loopback: fail", () => {
      const result = checkPublishedPorts(mqttStack(container("loader", "iot-dev-broker", brokerOn("0.0.0.0", "8883"))), expectedPorts(settingsOf("dev")));
      expect(result.summary).toMatch(/^iot-dev-broker is published beyond the configuration: 8883\/tcp on 0\.0\.0\.0:8883; /);
    });

    test("a bridge or an MQTT simulator that publishes a port: fail", () => {
      const c = mqttStack(container("loader", "iot-dev-broker", brokerOn("127.0.0.1", "8883")));
      c[4] = container("loader", "iot-dev-bridge", (x) => (x.NetworkSettings.Ports = { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }] }));
      c[5] = container("loader", "iot-dev-mqtt-simulator", (x) => (x.NetworkSettings.Ports = { "9000/tcp": [{ HostIp: "0.0.0.0", HostPort: "9000" }] }));
      expect(checkPublishedPorts(c, expectedPorts(settingsOf("dev"))).summary).toBe(
        "iot-dev-bridge is published beyond the configuration: 8080/tcp on 127.0.0.1:8080; iot-dev-mqtt-simulator is published beyond the configuration: 9000/tcp on 0.0.0.0:9000",
      );
    });

    test("the broker's container missing: fail", () => {
      const c = mqttStack(container("loader", "iot-dev-broker")).filter((x) => x.Name !== "/iot-dev-broker");
      expect(checkPublishedPorts(c, expectedPorts(settingsOf("dev"))).summary).toBe("iot-dev-broker: no such container");
    });
  });
});

describe("Grafana's certificate, over real TLS with certificates made here", () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  async function serve(cert: { certPem: string; keyPem: string }): Promise<string> {
    const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end("ok"));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return `https://localhost:${(server.address() as AddressInfo).port}`;
  }

  test("issued by the stack's CA for the URL's host, 90 days left, window 30 days: pass", async () => {
    const ca = await makeCa("stack CA");
    const cert = await ca.issue({ dns: ["localhost"], ips: ["127.0.0.1"] }, 90 * 24);
    const url = await serve(cert);
    const probe = await probeTls(url, ca.certPem);
    expect(probe).toMatchObject({ authorized: true });
    expect(probe.validTo?.getTime()).toBe(cert.notAfter.getTime());
    expect(checkCertificate(probe, url, 720, new Date())).toMatchObject({ status: "pass", summary: expect.stringMatching(/^verifies against the stack's CA, valid until .* \(21\d\d h\), outside the renewal window of 720 h$/) });
  });

  test("10 days left with a renewal window of 30 days: fail, and says to run up", async () => {
    const ca = await makeCa("stack CA");
    const url = await serve(await ca.issue({ dns: ["localhost"] }, 10 * 24));
    expect(checkCertificate(await probeTls(url, ca.certPem), url, 720, new Date()).summary).toMatch(/inside the renewal window of 720 h; run npm run up to renew it$/);
  });

  test("issued by another CA: fail (only the stack's CA is trusted, not the system's)", async () => {
    const stackCa = await makeCa("stack CA");
    const other = await makeCa("someone else");
    const url = await serve(await other.issue({ dns: ["localhost"] }, 90 * 24));
    const result = checkCertificate(await probeTls(url, stackCa.certPem), url, 720, new Date());
    expect(result).toMatchObject({ status: "fail", summary: expect.stringMatching(/does not verify against the stack's CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE/) });
  });

  test("issued for another name than the URL's host: fail", async () => {
    const ca = await makeCa("stack CA");
    const url = await serve(await ca.issue({ dns: ["grafana.example.invalid"] }, 90 * 24));
    expect(checkCertificate(await probeTls(url, ca.certPem), url, 720, new Date()).summary).toMatch(/does not verify against the stack's CA: ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  test("nothing listening: fail, no session", async () => {
    const ca = await makeCa("stack CA");
    const url = await serve(await ca.issue({ dns: ["localhost"] }, 24));
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(checkCertificate(await probeTls(url, ca.certPem), url, 1, new Date()).summary).toMatch(/^no TLS session with https:\/\/localhost:\d+: connect ECONNREFUSED/);
  });
});

describe("the broker's TLS listener, over real TLS with certificates made here", () => {
  const servers: TlsServer[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  /**
   * A stand-in for Mosquitto's listener: OpenSSL with SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
   * which is what require_certificate true sets and what Node sets for requestCert with
   * rejectUnauthorized. Debian's mosquitto 2.0.11 answered this probe with the same alert.
   */
  async function listen(cert: { certPem: string; keyPem: string }, caPem: string, requireCertificate: boolean, onSession: (socket: import("node:tls").TLSSocket) => void = () => {}): Promise<number> {
    const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem, ca: caPem, requestCert: requireCertificate, rejectUnauthorized: true }, onSession);
    server.on("tlsClientError", () => {});
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return (server.address() as AddressInfo).port;
  }
  const WINDOW_H = 720;

  test("the stack's CA, the first external name, a client certificate required: pass", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["broker", "localhost"], ips: ["127.0.0.1"] }, 90 * 24), ca.certPem, true);
    const probe = await probeBrokerTls("127.0.0.1", port, "localhost", ca.certPem);
    expect(probe).toMatchObject({ authorized: true, withoutClientCertificate: "refused" });
    expect(checkBrokerTls(probe, `127.0.0.1:${port}`, "localhost", WINDOW_H, new Date())).toMatchObject({
      name: "broker tls",
      status: "pass",
      summary: expect.stringMatching(
        new RegExp(`^127\\.0\\.0\\.1:${port} serves TLS 1\\.3 with a certificate for localhost that verifies against the stack's CA, valid until .* \\(21\\d\\d h\\), outside the renewal window of 720 h; a session without a client certificate is refused \\(certificate required\\)$`),
      ),
    });
  });

  test("a broker that does not ask for a client certificate (the session stays open): fail", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["localhost"] }, 90 * 24), ca.certPem, false);
    const probe = await probeBrokerTls("127.0.0.1", port, "localhost", ca.certPem, 10_000, 300);
    expect(probe.withoutClientCertificate).toBe("kept open");
    expect(checkBrokerTls(probe, `127.0.0.1:${port}`, "localhost", WINDOW_H, new Date())).toMatchObject({
      status: "fail",
      summary: `the broker on 127.0.0.1:${port} took a TLS session without a client certificate and kept the session open, instead of refusing it with the alert certificate_required (require_certificate true)`,
    });
  });

  test("a listener that hangs up without the alert: fail, saying how it closed", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["localhost"] }, 90 * 24), ca.certPem, false, (socket) => socket.end());
    const probe = await probeBrokerTls("127.0.0.1", port, "localhost", ca.certPem);
    expect(checkBrokerTls(probe, `127.0.0.1:${port}`, "localhost", WINDOW_H, new Date()).summary).toMatch(/and closed it another way \(closed without an alert\)/);
  });

  test("a certificate without the name devices dial (mqttExternalNames[0]), though it has the address dialled: fail", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["broker", "localhost"], ips: ["127.0.0.1"] }, 90 * 24), ca.certPem, true);
    const probe = await probeBrokerTls("127.0.0.1", port, "iot.example.net", ca.certPem);
    expect(checkBrokerTls(probe, `127.0.0.1:${port}`, "iot.example.net", WINDOW_H, new Date())).toMatchObject({
      status: "fail",
      summary: `the certificate of 127.0.0.1:${port} (as iot.example.net) does not verify against the stack's CA: ERR_TLS_CERT_ALTNAME_INVALID`,
    });
  });

  test("an IP address as the first external name is checked as an IP SAN", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["localhost"], ips: ["192.0.2.7"] }, 90 * 24), ca.certPem, true);
    expect((await probeBrokerTls("127.0.0.1", port, "192.0.2.7", ca.certPem)).authorized).toBe(true);
    expect((await probeBrokerTls("127.0.0.1", port, "192.0.2.8", ca.certPem)).authorizationError).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("issued by another CA, or inside the renewal window: fail", async () => {
    const stackCa = await makeCa("stack CA");
    const other = await makeCa("someone else");
    const foreign = await listen(await other.issue({ dns: ["localhost"] }, 90 * 24), other.certPem, true);
    expect(checkBrokerTls(await probeBrokerTls("127.0.0.1", foreign, "localhost", stackCa.certPem), `127.0.0.1:${foreign}`, "localhost", WINDOW_H, new Date()).summary).toMatch(
      // the listener sends its CA with its certificate (OpenSSL builds the chain from the CA it verifies clients with, as Mosquitto's cafile)
      /does not verify against the stack's CA: SELF_SIGNED_CERT_IN_CHAIN$/,
    );
    const expiring = await listen(await stackCa.issue({ dns: ["localhost"] }, 10 * 24), stackCa.certPem, true);
    expect(checkBrokerTls(await probeBrokerTls("127.0.0.1", expiring, "localhost", stackCa.certPem), `127.0.0.1:${expiring}`, "localhost", WINDOW_H, new Date()).summary).toMatch(
      /inside the renewal window of 720 h; run npm run up to renew it$/,
    );
  });

  test("nothing listening: fail, no session", async () => {
    const ca = await makeCa("stack CA");
    const port = await listen(await ca.issue({ dns: ["localhost"] }, 24), ca.certPem, true);
    await new Promise((r) => servers.pop()!.close(r));
    expect(checkBrokerTls(await probeBrokerTls("127.0.0.1", port, "localhost", ca.certPem), `127.0.0.1:${port}`, "localhost", 1, new Date()).summary).toMatch(
      new RegExp(`^no TLS session with 127\\.0\\.0\\.1:${port} \\(as localhost\\): ECONNREFUSED`),
    );
  });

  test("where it is dialled: mqttBindAddress and mqttPort, loopback for 0.0.0.0", () => {
    expect(brokerAddress(settingsOf("dev"))).toEqual({ host: "127.0.0.1", port: 8883 });
    expect(brokerAddress(settingsOf("dev", { mqttBindAddress: "0.0.0.0", mqttPort: "18883" }))).toEqual({ host: "127.0.0.1", port: 18883 });
    expect(brokerAddress(settingsOf("dev", { mqttBindAddress: "192.168.1.10" }))).toEqual({ host: "192.168.1.10", port: 8883 });
  });
});

describe("login", () => {
  const ok: HttpAnswer = { status: 200, body: JSON.stringify({ id: 1, login: "admin", isGrafanaAdmin: true }) };
  const refused: HttpAnswer = { status: 401, body: JSON.stringify({ message: "Invalid username or password" }) };
  test("the right password accepted, a wrong one refused with 401: pass", () => {
    expect(checkLogin(ok, refused, "admin").status).toBe("pass");
  });
  test("a wrong password accepted: fail", () => {
    expect(checkLogin(ok, ok, "admin")).toMatchObject({ status: "fail", summary: expect.stringMatching(/^a wrong password for admin was not refused with 401 \(HTTP 200/) });
  });
  test("the right password refused: fail, and a lockout is explained", () => {
    expect(checkLogin(refused, undefined, "admin").summary).toMatch(/^the admin credentials from the stack's outputs were refused \(HTTP 401/);
    const locked = { status: 401, body: JSON.stringify({ message: "Too many consecutive incorrect login attempts for user - login for user temporarily blocked" }) };
    expect(checkLogin(locked, undefined, "admin").summary).toMatch(/brute-force protection/);
  });
  test("an answer for another user: fail", () => {
    expect(checkLogin({ status: 200, body: JSON.stringify({ login: "viewer" }) }, refused, "admin").status).toBe("fail");
  });
});

describe("fresh data through Grafana's datasource", () => {
  const now = new Date("2026-11-26T09:00:00Z");
  const window = freshnessWindowMs(5000);
  /**
   * Grafana's answer: one frame per result, fields as the Flux frame builder names them, times in
   * epoch ms; `named` the devices the "named" query found (a table of one string column "device",
   * which the frame builder turns into one string field of that name: pkg/tsdb/influxdb/flux/builder.go).
   */
  const answer = (devices: number | undefined, newestMsAgo: number | undefined, named?: string[]): HttpAnswer => ({
    status: 200,
    body: JSON.stringify({
      results: {
        ...(named && {
          named: {
            status: 200,
            frames: named.length === 0 ? [] : [{ schema: { refId: "named", fields: [{ name: "device", type: "string", typeInfo: { frame: "string", nullable: true } }] }, data: { values: [named] } }],
          },
        }),
        devices: {
          status: 200,
          frames: devices === undefined ? [] : [{ schema: { refId: "devices", fields: [{ name: "_value", type: "number", typeInfo: { frame: "int64", nullable: true } }] }, data: { values: [[devices]] } }],
        },
        newest: {
          status: 200,
          frames:
            newestMsAgo === undefined
              ? []
              : [{ schema: { refId: "newest", fields: [{ name: "_time", type: "time", typeInfo: { frame: "time.Time", nullable: true } }] }, data: { values: [[now.getTime() - newestMsAgo]] } }],
        },
      },
    }),
  });

  test("the window is at least two minutes, or three reporting intervals", () => {
    expect([freshnessWindowMs(1000), freshnessWindowMs(5000), freshnessWindowMs(60_000)]).toEqual([120_000, 120_000, 180_000]);
  });
  test("the query: the stack's bucket, the window, both Flux queries against the provisioned datasource", () => {
    const q: any = freshDataQuery("sensors", 120_000, now);
    expect(q.from).toBe(String(now.getTime() - 120_000));
    expect(q.queries.map((x: any) => [x.refId, x.datasource.uid])).toEqual([["devices", "influxdb-iot"], ["newest", "influxdb-iot"]]);
    expect(q.queries[0].query).toBe(
      'from(bucket: "sensors") |> range(start: -120s) |> filter(fn: (r) => r._measurement == "environment" and r._field == "temperature_c") |> group(columns: ["device"]) |> last() |> group() |> count()',
    );
  });
  test("every device in the window: pass", () => {
    expect(checkFreshData(answer(5, 3000), 5, window, now)).toMatchObject({ status: "pass", summary: "all 5 devices wrote in the last 120 s (newest reading 3 s old), read through Grafana's datasource influxdb-iot" });
  });
  test("some devices silent: fail", () => {
    expect(checkFreshData(answer(3, 3000), 5, window, now).summary).toBe("3 of 5 devices wrote in the last 120 s (newest reading 3 s old)");
  });
  test("nothing in the window (Flux returns no table): fail", () => {
    expect(checkFreshData(answer(undefined, undefined), 5, window, now)).toMatchObject({ status: "fail", summary: "no reading in the last 120 s" });
  });
  test("the datasource failing (InfluxDB unreachable, token refused): fail with its error", () => {
    const failing = { status: 400, body: JSON.stringify({ results: { devices: { status: 400, error: "unauthorized: unauthorized access" }, newest: { status: 400, error: "unauthorized" } } }) };
    expect(checkFreshData(failing, 5, window, now).summary).toBe("Grafana's datasource query failed (HTTP 400: unauthorized: unauthorized access)");
    const inResult = { status: 200, body: JSON.stringify({ results: { devices: { error: "error reading bucket" }, newest: { frames: [] } } }) };
    expect(checkFreshData(inResult, 5, window, now).summary).toBe('the "devices" query failed in the datasource: error reading bucket');
    expect(checkFreshData({ status: 502, body: "<html>bad gateway</html>" }, 5, window, now).status).toBe("fail");
  });

  describe("with MQTT devices: simulated ones must write, declared ones may", () => {
    const dev: DeviceExpectation = { https: 5, simulatedMqtt: SIM_MQTT, declared: [] };
    const withDeclared: DeviceExpectation = { ...dev, declared: ["pump-7", "greenhouse-01"] };

    test("what the configuration expects: simDevices over HTTPS, sim-mqtt-001 … over MQTT, the declared devices by id", () => {
      expect(deviceExpectation(settingsOf("dev"))).toEqual(dev);
      expect(deviceExpectation(settingsOf("dev", { devices: '["pump-7", { "id": "greenhouse-01", "site": "plant-2" }]' }))).toEqual(withDeclared);
      expect(deviceExpectation(settingsOf("dev", NO_MQTT))).toEqual({ https: 5, simulatedMqtt: [], declared: [] });
    });

    test("the query names the MQTT devices in a third query, with room for all of them in Grafana's answer; none without them", () => {
      const q: any = freshDataQuery("sensors", 120_000, now, [...SIM_MQTT, "pump-7"]);
      expect(q.queries.map((x: any) => x.refId)).toEqual(["devices", "newest", "named"]);
      expect(q.queries[2]).toMatchObject({ datasource: { uid: "influxdb-iot" }, maxDataPoints: 100 });
      expect(q.queries[2].query).toBe(
        'from(bucket: "sensors") |> range(start: -120s) |> filter(fn: (r) => r._measurement == "environment" and r._field == "temperature_c" and r.device =~ /^(sim-mqtt-001|sim-mqtt-002|sim-mqtt-003|pump-7)$/) |> group(columns: ["device"]) |> last() |> group() |> keep(columns: ["device"])',
      );
      const many = Array.from({ length: 1000 }, (_, i) => `d-${i}`);
      expect((freshDataQuery("sensors", 120_000, now, many) as any).queries[2].maxDataPoints).toBe(1000);
    });

    test("all 8 simulated devices (5 over HTTPS, 3 over MQTT): pass", () => {
      expect(checkFreshData(answer(8, 3000, SIM_MQTT), dev, window, now)).toMatchObject({
        status: "pass",
        summary: "all 8 simulated devices wrote in the last 120 s (5 over HTTPS, 3 over MQTT; newest reading 3 s old), read through Grafana's datasource influxdb-iot",
        details: [],
      });
    });

    test("declared devices are allowed, counted and reported; a silent one is no failure of the stack", () => {
      const result = checkFreshData(answer(9, 3000, [...SIM_MQTT, "pump-7"]), withDeclared, window, now);
      expect(result).toMatchObject({
        status: "pass",
        summary: "all 8 simulated devices wrote in the last 120 s (5 over HTTPS, 3 over MQTT; newest reading 3 s old), read through Grafana's datasource influxdb-iot; 1 of 2 declared devices wrote",
      });
      expect(result.details).toEqual([
        "declared devices that wrote: pump-7",
        "declared devices silent in the last 120 s: greenhouse-01 (a real device may be switched off or not installed yet: not a failure of the stack)",
      ]);
      expect(checkFreshData(answer(10, 3000, [...SIM_MQTT, "pump-7", "greenhouse-01"]), withDeclared, window, now)).toMatchObject({ status: "pass", summary: expect.stringMatching(/; 2 of 2 declared devices wrote$/) });
    });

    test("a simulated MQTT device silent (the MQTT path broken for it): fail, naming it", () => {
      const result = checkFreshData(answer(7, 3000, ["sim-mqtt-001", "sim-mqtt-002"]), dev, window, now);
      expect(result).toMatchObject({
        status: "fail",
        summary: "7 of 8 simulated devices wrote in the last 120 s (5 of 5 over HTTPS, 2 of 3 over MQTT; newest reading 3 s old)",
        details: ["simulated MQTT devices silent in the last 120 s: sim-mqtt-003"],
      });
    });

    test("an HTTPS device silent while a declared one writes: the declared one does not make up for it", () => {
      expect(checkFreshData(answer(8, 3000, [...SIM_MQTT, "pump-7"]), withDeclared, window, now).summary).toBe(
        "7 of 8 simulated devices wrote in the last 120 s (4 of 5 over HTTPS, 3 of 3 over MQTT; newest reading 3 s old); 1 of 2 declared devices wrote",
      );
    });

    test("more devices than simulated and declared: still data from elsewhere", () => {
      expect(checkFreshData(answer(10, 3000, [...SIM_MQTT, "pump-7"]), withDeclared, window, now)).toMatchObject({
        status: "fail",
        summary: "10 devices wrote in the last 120 s, but the stack runs 8 simulated devices and declares 2 more: data from elsewhere in the bucket?; 1 of 2 declared devices wrote",
      });
      expect(checkFreshData(answer(9, 3000, SIM_MQTT), dev, window, now).summary).toBe("9 devices wrote in the last 120 s, but the stack runs 8 simulated devices: data from elsewhere in the bucket?");
    });

    test("Grafana's answer without the named query's result, or with its error: fail", () => {
      expect(checkFreshData(answer(8, 3000), dev, window, now).summary).toBe('Grafana\'s answer has no result for the "named" query');
      const failing = JSON.parse(answer(8, 3000, []).body);
      failing.results.named = { status: 500, error: "reached max series limit (1000)" };
      expect(checkFreshData({ status: 200, body: JSON.stringify(failing) }, dev, window, now).summary).toBe('the "named" query failed in the datasource: reached max series limit (1000)');
    });
  });
});

describe("the simulator's log", () => {
  const healthy = container("healthy", "iot-dev-simulator", HEALTHY_SIMULATOR);
  const line = (o: Record<string, unknown>) => JSON.stringify({ level: 30, time: 1795680000000, service: "simulator", ...o });
  const clean = [
    line({ url: "https://influxdb:8086", devices: 5, interval_ms: 5000, msg: "starting" }),
    line({ url: "https://influxdb:8086", msg: "server reachable" }),
    line({ devices: 5, interval_ms: 5000, sweep_ms: 1000, msg: "live" }),
    line({ level: 40, err: { message: "socket hang up" }, attempt: 1, points: 100, msg: "write failed, will retry" }),
  ].join("\n");

  test("no drops, healthy: pass, with the health check's verdict", () => {
    expect(checkSimulatorLog(clean, healthy)).toMatchObject({ status: "pass", summary: 'no dropped points in the 4 log lines Docker keeps; last health check: "healthy: last successful write 812 ms ago"' });
  });
  test("points dropped (buffer full, retries exhausted): fail, counted", () => {
    const log = `${clean}\n${line({ level: 50, points: 100, reason: "retry buffer full", points_dropped: 100, msg: "points dropped" })}\n${line({ level: 50, err: {}, attempt: 6, msg: "write failed for good" })}\n${line({ level: 50, points: 20, reason: "retries exhausted", points_dropped: 120, msg: "points dropped" })}`;
    expect(checkSimulatorLog(log, healthy).summary).toBe('120 points dropped (2 "points dropped" lines); 1 "write failed for good" lines');
  });
  test("an earlier run of the container stopped with drops (its summary line is in the log): fail", () => {
    const log = `${clean}\n${line({ points_generated: 10, points_written: 7, points_dropped: 3, shutdown_ms: 8000, msg: "simulator stopped" })}`;
    expect(checkSimulatorLog(log, healthy).summary).toBe("an earlier run stopped with 3 points and 0 metrics lines dropped");
  });
  test("metrics lines dropped (the simulator's own counters, measurement simulator): fail too", () => {
    const log = `${clean}\n${line({ level: 50, lines: 2, reason: "retries exhausted", metrics_dropped: 2, msg: "metrics lines dropped" })}\n${line({ points_generated: 10, points_written: 10, points_dropped: 0, metrics_dropped: 2, msg: "simulator stopped" })}`;
    expect(checkSimulatorLog(log, healthy).summary).toBe("2 metrics lines dropped; an earlier run stopped with 0 points and 2 metrics lines dropped");
  });
  test("unhealthy (no recent successful write): fail", () => {
    const sick = container("unhealthy", "iot-dev-simulator", (c) => (c.State.Health.Log.at(-1).Output = "unhealthy: last successful write 95000 ms ago (limit 30000 ms)\n"));
    expect(checkSimulatorLog(clean, sick).summary).toBe('last health check: "unhealthy: last successful write 95000 ms ago (limit 30000 ms)"');
  });
  test("nothing logged, or no container: fail", () => {
    expect(checkSimulatorLog("", healthy).summary).toBe("no JSON log line at all (is it logging?)");
    expect(checkSimulatorLog(clean, undefined).summary).toBe("the simulator container was not found");
  });
  test("the MQTT simulator's log, which has the same lines: its own check name, and its container named when missing", () => {
    const mqttLog = `${line({ transport: "mqtt", devices: 3, msg: "simulator starting" })}\n${line({ level: 50, points: 4, reason: "publish refused", points_dropped: 4, msg: "points dropped" })}`;
    expect(checkSimulatorLog(mqttLog, healthy, "mqtt simulator log", "the MQTT simulator container")).toMatchObject({ name: "mqtt simulator log", status: "fail", summary: '4 points dropped (1 "points dropped" lines)' });
    expect(checkSimulatorLog(clean, undefined, "mqtt simulator log", "the MQTT simulator container").summary).toBe("the MQTT simulator container was not found");
  });
});

describe("reading the stack's configuration", () => {
  test("pulumi config --json over Pulumi.yaml's defaults; object values as JSON; secrets without a value left out", () => {
    const merged = mergeConfig({ "secure-iot:simDevices": "5", "secure-iot:grafanaPort": "3000" }, JSON.stringify({
      "secure-iot:simDevices": { value: "20", secret: false },
      "secure-iot:grafanaExternalNames": { value: '["iot.local"]', objectValue: ["iot.local"], secret: false },
      "secure-iot:grafanaAdminPassword": { secret: true },
    }));
    expect(merged).toEqual({ "secure-iot:simDevices": "20", "secure-iot:grafanaPort": "3000", "secure-iot:grafanaExternalNames": '["iot.local"]' });
  });
  test("arguments", () => {
    expect(parseArgs([])).toEqual({ stack: "dev", json: false });
    expect(parseArgs(["--stack", "prod", "--json"])).toEqual({ stack: "prod", json: true });
    expect(() => parseArgs(["--fix"])).toThrow("unknown argument --fix");
  });
});

describe("a whole run: stand-in pulumi and docker, a stand-in Grafana over real HTTPS", () => {
  const PASSWORD = "correct-horse-battery-staple-0123456789";
  let grafana: Server;
  let url: string;
  let caPem: string;
  let acceptAnyPassword = false;
  const seen: string[] = [];
  /** the devices the stand-in InfluxDB has fresh readings of: the HTTPS ones counted, the others by id */
  let writing = { https: 5, named: SIM_MQTT };

  beforeAll(async () => {
    const ca = await makeCa("stack CA");
    caPem = ca.certPem;
    const cert = await ca.issue({ dns: ["localhost"], ips: ["127.0.0.1"] }, 90 * 24);
    grafana = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        seen.push(`${req.method} ${req.url}`);
        const authorized = acceptAnyPassword || req.headers.authorization === basicAuth("admin", PASSWORD);
        res.setHeader("content-type", "application/json");
        if (!authorized) {
          res.statusCode = 401;
          return res.end(JSON.stringify({ message: "Invalid username or password" }));
        }
        if (req.url === "/api/user") return res.end(JSON.stringify({ id: 1, login: "admin" }));
        if (req.url === "/api/ds/query") {
          const q = JSON.parse(body);
          const now = Date.now();
          // the named query's regex /^(a|b|…)$/, answered from the devices that write
          const named = (query: string) => {
            const asked = /=~ \/\^\(([^)]*)\)\$\//.exec(query)![1].split("|");
            return writing.named.filter((id) => asked.includes(id));
          };
          const frame = (name: string, type: string, values: unknown[]) => ({ schema: { fields: [{ name, type }] }, data: { values: [values] } });
          return res.end(JSON.stringify({
            results: Object.fromEntries(
              q.queries.map((x: any) => [
                x.refId,
                x.refId === "devices"
                  ? { status: 200, frames: [frame("_value", "number", [writing.https + writing.named.length])] }
                  : x.refId === "named"
                    ? { status: 200, frames: [frame("device", "string", named(x.query))] }
                    : { status: 200, frames: [frame("_time", "time", [now - 2000])] },
              ]),
            ),
          }));
        }
        res.statusCode = 404;
        res.end("{}");
      });
    });
    await new Promise<void>((r) => grafana.listen(0, "127.0.0.1", () => r()));
    url = `https://localhost:${(grafana.address() as AddressInfo).port}`;
  });
  afterAll(() => grafana.close());

  /** `config`: what `pulumi config --json` adds over Pulumi.dev.yaml (the dev stack has simMqttDevices 3). */
  function exec(inspects: Inspect[], config: Record<string, string> = {}): Exec {
    return async (command, args) => {
      const line = [command, ...args].join(" ");
      if (line === "pulumi stack output --json --show-secrets --stack dev") {
        return { status: 0, stderr: "", stdout: JSON.stringify({ grafanaUrl: url, grafanaAdminUser: "admin", grafanaAdminPassword: PASSWORD, caCertificatePem: caPem }) };
      }
      if (line === "pulumi config --json --stack dev") {
        const values = { simDevices: "5", ...config };
        return { status: 0, stderr: "", stdout: JSON.stringify(Object.fromEntries(Object.entries(values).map(([k, v]) => [`secure-iot:${k}`, { value: v, secret: false }]))) };
      }
      if (line === "docker ps -a --format {{.Names}}") return { status: 0, stderr: "", stdout: `${inspects.map((c) => c.Name.slice(1)).join("\n")}\niot-dev2-grafana\niotet-x-iot-dev-simulator\n` };
      if (command === "docker" && args[0] === "inspect") return { status: 0, stderr: "", stdout: JSON.stringify(inspects.filter((c) => args.includes(c.Name.slice(1)))) };
      if (line === "docker logs iot-dev-simulator" || line === "docker logs iot-dev-mqtt-simulator") return { status: 0, stderr: "", stdout: `${JSON.stringify({ level: 30, msg: "live" })}\n` };
      return { status: 127, stdout: "", stderr: `unexpected: ${line}` };
    };
  }
  const healthy = (kind: string, name: string, change: (c: any) => void = () => {}) =>
    container(kind, name, (c) => {
      c.State = structuredClone(recorded("healthy").State);
      c.NetworkSettings.Ports = {};
      change(c);
    });
  const coreStack = () => [
    container("unhealthy", "iot-dev-influxdb", (c) => {
      c.State.Health.Status = "healthy";
    }),
    container("loader", "iot-dev-grafana", (c) => {
      c.State = recorded("healthy").State;
      c.NetworkSettings.Ports = { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "3000" }] };
    }),
    container("unhealthy", "iot-dev-simulator", (c) => {
      c.State.Health.Status = "healthy";
      HEALTHY_SIMULATOR(c);
    }),
    container("loader", "iot-dev-simulator-files-loader"),
  ];
  const mqttContainers = () => [
    healthy("loader", "iot-dev-broker", (c) => (c.NetworkSettings.Ports = { "8883/tcp": [{ HostIp: "127.0.0.1", HostPort: "8883" }] })),
    healthy("loader", "iot-dev-bridge"),
    healthy("loader", "iot-dev-mqtt-simulator", HEALTHY_SIMULATOR),
    container("loader", "iot-dev-broker-files-loader"),
  ];
  const healthyStack = () => [...coreStack(), ...mqttContainers()];

  /** A stand-in for the TLS probe of the broker (tested above over real TLS): what a Mosquitto with require_certificate answers. */
  const brokerProbes: string[] = [];
  const refusingBroker = async (host: string, port: number, name: string, ca: string): Promise<BrokerTlsProbe> => {
    brokerProbes.push(`${host}:${port} as ${name}${ca === caPem ? " trusting the stack's CA" : ""}`);
    return { authorized: true, validTo: new Date(Date.now() + 90 * 24 * 3_600_000), withoutClientCertificate: "refused" };
  };
  const deps = (stack: Inspect[], config: Record<string, string> = {}) => ({
    exec: exec(stack, config),
    request,
    probeTls,
    probeBrokerTls: refusingBroker,
    now: () => new Date(),
    root: ROOT,
  });

  test("the dev stack with its MQTT devices, healthy: every check passes, the broker's among them, exit 0; the wrong password is tried last", async () => {
    seen.length = 0;
    brokerProbes.length = 0;
    const run = await runVerify("dev", deps(healthyStack()));
    expect(run.results.map((r) => [r.name, r.status])).toEqual([
      ["containers", "pass"],
      ["published ports", "pass"],
      ["grafana tls", "pass"],
      ["broker tls", "pass"],
      ["grafana login", "pass"],
      ["fresh data", "pass"],
      ["simulator log", "pass"],
      ["mqtt simulator log", "pass"],
    ]);
    expect(run.exitCode).toBe(0);
    expect(brokerProbes).toEqual(["127.0.0.1:8883 as localhost trusting the stack's CA"]);
    expect(run.results.find((r) => r.name === "fresh data")!.summary).toMatch(/^all 8 simulated devices wrote in the last 120 s \(5 over HTTPS, 3 over MQTT; /);
    const lines = run.report.split("\n");
    expect(lines[0]).toBe(`verify stack dev (Grafana ${url})`);
    expect(lines.at(-1)).toBe("8 passed, 0 failed, 0 skipped");
    expect(run.json).toMatchObject({ stack: "dev", ok: true, counts: { pass: 8, fail: 0, skip: 0 } });
    expect(seen).toEqual(["GET /api/user", "POST /api/ds/query", "GET /api/user"]);
  });

  test("a stack without MQTT devices: the six checks of before, no broker probed; a broker left behind is not a container of the stack", async () => {
    brokerProbes.length = 0;
    writing = { https: 5, named: [] };
    try {
      const run = await runVerify("dev", deps(coreStack(), { simMqttDevices: "0" }));
      expect(run.results.map((r) => [r.name, r.status])).toEqual([
        ["containers", "pass"],
        ["published ports", "pass"],
        ["grafana tls", "pass"],
        ["grafana login", "pass"],
        ["fresh data", "pass"],
        ["simulator log", "pass"],
      ]);
      expect(run.results.find((r) => r.name === "fresh data")!.summary).toMatch(/^all 5 devices wrote in the last 120 s/);
      expect(brokerProbes).toEqual([]);
      const leftOver = await runVerify("dev", deps([...coreStack(), mqttContainers()[0]], { simMqttDevices: "0" }));
      expect(leftOver.results[0]).toMatchObject({ status: "fail", summary: "iot-dev-broker: not a container of the stack (running)" });
    } finally {
      writing = { https: 5, named: SIM_MQTT };
    }
  });

  test("declared devices, one of them silent: still a pass, and the report says how many wrote", async () => {
    writing = { https: 5, named: [...SIM_MQTT, "pump-7"] };
    try {
      const run = await runVerify("dev", deps(healthyStack(), { devices: '["pump-7","greenhouse-01"]' }));
      expect(run.exitCode).toBe(0);
      expect(run.report).toContain("; 1 of 2 declared devices wrote");
      expect(run.report).toContain("declared devices silent in the last 120 s: greenhouse-01 (a real device may be switched off or not installed yet: not a failure of the stack)");
    } finally {
      writing = { https: 5, named: SIM_MQTT };
    }
  });

  test("a Grafana that takes any password, a restarted simulator, a broker that keeps a session without a client certificate: those checks fail, exit 1", async () => {
    acceptAnyPassword = true;
    try {
      const stack = healthyStack();
      stack[2].RestartCount = 2;
      const run = await runVerify("dev", { ...deps(stack), probeBrokerTls: async () => ({ authorized: true, validTo: new Date(Date.now() + 90 * 24 * 3_600_000), withoutClientCertificate: "kept open" }) });
      expect(run.results.filter((r) => r.status === "fail").map((r) => r.name)).toEqual(["containers", "broker tls", "grafana login"]);
      expect(run.exitCode).toBe(1);
      expect(run.report).toContain("  FAIL  grafana login: a wrong password for admin was not refused with 401 (HTTP 200");
    } finally {
      acceptAnyPassword = false;
    }
  });

  test("a stack that is not deployed: one failed check saying so, exit 1", async () => {
    const notDeployed: Exec = async (command, args) =>
      command === "pulumi" && args[0] === "stack"
        ? { status: 255, stdout: "", stderr: "error: no stack named 'dev' found\n" }
        : { status: 0, stdout: "{}", stderr: "" };
    const run = await runVerify("dev", { ...deps([]), exec: notDeployed });
    expect(run.results).toEqual([{ name: "stack", status: "fail", summary: "pulumi stack output failed: error: no stack named 'dev' found" }]);
    expect(run.exitCode).toBe(1);
  });
});
