// A second `pulumi up` with no change must change nothing: every container input the program
// sends must equal what the Docker provider reads back (test/support/provider-readback.ts).
import { cpusRoundTrip, cpusValue, durationValue } from "../components/provider-values";
import { CONTAINER, ofType, runUnderMocks, stackConfig, type Run } from "./support/harness";
import { containerReadBack, goDurationString, nanoInt64ToDecimalString, parseCpus, parseGoDuration, portsReadBack } from "./support/provider-readback";

describe("the model of the provider's read-back", () => {
  // kreuzwerker/terraform-provider-docker internal/provider/helpers_test.go, TestNanoInt64ToDecimalString
  test.each([
    [0n, "0"],
    [1_000_000_000n, "1.0"],
    [1_500_000_000n, "1.5"],
    [2_000_000_000n, "2.0"],
    [2_250_000_000n, "2.25"],
  ])("nanoInt64ToDecimalString(%s) is %s", (nano, expected) => {
    expect(nanoInt64ToDecimalString(nano)).toBe(expected);
  });

  // Go src/time/time_test.go, durationTests (the non-negative ones below a day, and the extremes)
  test.each([
    [0n, "0s"],
    [1n, "1ns"],
    [1100n, "1.1µs"],
    [2_200_000n, "2.2ms"],
    [3_300_000_000n, "3.3s"],
    [245_000_000_000n, "4m5s"],
    [245_001_000_000n, "4m5.001s"],
    [18_367_001_000_000n, "5h6m7.001s"],
    [480_000_000_001n, "8m0.000000001s"],
    [9_223_372_036_854_775_807n, "2562047h47m16.854775807s"],
    [-9_223_372_036_854_775_808n, "-2562047h47m16.854775808s"],
  ])("Duration(%s).String() is %s", (nanos, expected) => {
    expect(goDurationString(nanos)).toBe(expected);
  });

  test("parsing: docker/cli's ParseCPUs and Go's ParseDuration", () => {
    expect(parseCpus("0.500")).toBe(500_000_000n);
    expect(parseCpus("1.")).toBe(1_000_000_000n);
    expect(() => parseCpus("0.0000000001")).toThrow(/too precise/);
    expect(parseGoDuration("60s")).toBe(60_000_000_000n);
    expect(parseGoDuration("1m0s")).toBe(60_000_000_000n);
    expect(parseGoDuration("1.5s")).toBe(1_500_000_000n);
    expect(() => parseGoDuration("60")).toThrow(/invalid duration/);
  });

  test("what drifted before: cpus sent as toFixed(3), a start period of 60s", () => {
    expect(containerReadBack({ cpus: "0.500" }).cpus).toBe("0.5");
    expect(containerReadBack({ cpus: "1.000" }).cpus).toBe("1.0");
    expect(containerReadBack({ healthcheck: { startPeriod: "60s" } }).healthcheck.startPeriod).toBe("1m0s");
    expect(containerReadBack({ capabilities: { adds: ["net_bind_service", "CHOWN"], drops: ["ALL"] } }).capabilities).toEqual({
      adds: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
      drops: ["ALL"],
    });
  });
});

describe("ports as Read stores them", () => {
  // kreuzwerker internal/provider/resource_docker_container_structures.go, flattenContainerPorts
  test("an IPv4 ip is kept, the protocol is the port key's (tcp unless given), ordered by internal port", () => {
    expect(portsReadBack([{ internal: 8883, external: 18883, ip: "192.0.2.10" }])).toEqual([{ internal: 8883, external: 18883, ip: "192.0.2.10", protocol: "tcp" }]);
    expect(
      portsReadBack([
        { internal: 8883, external: 8883, ip: "127.0.0.1", protocol: "tcp" },
        { internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" },
      ]).map((p) => p.internal),
    ).toEqual([3000, 8883]);
    expect(containerReadBack({ ports: [{ internal: 8883, external: 8883, ip: "127.0.0.1" }] }).ports[0].protocol).toBe("tcp");
  });

  test("a port without an ip is refused: it reads back as one or two bindings depending on the daemon (issue #909)", () => {
    expect(() => portsReadBack([{ internal: 8883, external: 8883 }])).toThrow(/port 8883 has no ip/);
  });
});

describe("the program's formatters agree with the model", () => {
  test("every cpu limit from 1 to 64000 millicores: sent exactly as read back, or known not to round-trip", () => {
    const lossy: number[] = [];
    for (let millis = 1; millis <= 64_000; millis++) {
      const sent = cpusValue(millis);
      const nano = parseCpus(sent);
      const exact = nano === BigInt(millis) * 1_000_000n;
      if (exact) expect(`${millis}: ${sent}`).toBe(`${millis}: ${nanoInt64ToDecimalString(nano)}`);
      expect(`${millis}: ${cpusRoundTrip(millis)}`).toBe(`${millis}: ${exact}`);
      if (!exact) lossy.push(millis);
    }
    // e.g. 0.05 cores is read back as "0.1"
    expect(lossy).toContain(50);
    expect(lossy).not.toContain(250);
  });

  test.each([0, 3, 5, 59, 60, 61, 90, 3599, 3600, 3661, 86_400])("durationValue(%s) is Go's form", (seconds) => {
    expect(durationValue(seconds)).toBe(goDurationString(BigInt(seconds) * 1_000_000_000n));
  });
});

describe.each(["dev", "prod"])("%s stack: a second `up` finds nothing to change", (stack) => {
  let run: Run;
  beforeAll(async () => {
    run = await runUnderMocks(stack, stackConfig(stack));
  });

  test("every container's inputs already equal their read-back form", () => {
    const containers = ofType(run, CONTAINER);
    expect(containers.length).toBeGreaterThanOrEqual(3);
    // the dev stack runs the MQTT path (simMqttDevices: 3): its containers are checked too
    if (stack === "dev") {
      expect(containers.map((c) => c.name)).toEqual(expect.arrayContaining(["broker-container", "bridge-container", "mqtt-simulator-container"]));
    }
    for (const c of containers) {
      expect({ name: c.name, inputs: containerReadBack(c.inputs) }).toEqual({ name: c.name, inputs: c.inputs });
    }
  });
});

describe("declared devices with the broker on a LAN address and its own limits: a second `up` finds nothing to change", () => {
  test("every container's inputs already equal their read-back form", async () => {
    const run = await runUnderMocks(
      "prod",
      stackConfig("prod", { devices: ["pump-7"], simMqttDevices: 2, mqttBindAddress: "192.0.2.10", mqttPort: 18883, brokerCpuMillis: 250, bridgeCpuMillis: 1000 }),
    );
    const containers = ofType(run, CONTAINER);
    expect(containers.map((c) => c.name)).toEqual(expect.arrayContaining(["broker-container", "bridge-container", "mqtt-simulator-container"]));
    for (const c of containers) {
      expect({ name: c.name, inputs: containerReadBack(c.inputs) }).toEqual({ name: c.name, inputs: c.inputs });
    }
  });
});
