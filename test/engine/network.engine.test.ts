// The network layout the program declares, on the engine: the networks InfluxDB and the simulator
// use are internal (cut off by dockerd's iptables rules), and the only published port is Grafana's, on the
// configured address and port. Grafana's container is created from a stand-in image; for the live
// check it runs a small listener in place of Grafana: the test is about the engine's publishing.
import { createConnection } from "node:net";
import type Docker from "dockerode";
import { stackConfig } from "../support/harness";
import { Scope, client, engine, engineSuite, eventually, logs, runOnce } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { baseImageTag, declaredStack, type DeclaredStack } from "./support/stack";

// Connects to argv[1]:argv[2] (a container of this test) and reports how that went, and whether the
// container has a default route (on Engine 20.10 an internal network still gives one; iptables
// drops what leaves it).
const ROUTE_PROBE =
  "const fs=require('fs'),net=require('net');" +
  // a default route is a line of /proc/net/route with destination 00000000
  "const routes=fs.readFileSync('/proc/net/route','utf8').split('\\n').slice(1).filter(Boolean).map(l=>l.split('\\t'));" +
  "const def=routes.some(r=>r[1]==='00000000');" +
  "const s=net.connect({host:process.argv[1],port:Number(process.argv[2]),timeout:3000});" +
  "const done=(r)=>{console.log(JSON.stringify({defaultRoute:def,connect:r}));process.exit(0)};" +
  "s.on('connect',()=>done('connected'));s.on('timeout',()=>done('timeout'));s.on('error',e=>done(e.code));";

function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 3000 });
    socket.on("connect", () => {
      socket.end();
      resolve("connected");
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

engineSuite("the network layout the program declares, on the engine", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  const config = stackConfig("dev");

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    deployment = await prepare(scope, stack, { simulatorImage: true });
  }, 8 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  const networksOf = (service: "simulator" | "influxdb" | "grafana") =>
    (stack.service(service).inputs.networksAdvanced as Array<{ name: string }>).map((n) => n.name);

  test("every network is created as declared, and the networks InfluxDB and the simulator are on are internal", async () => {
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const n of stack.networks) {
      const info = await docker.getNetwork(scope.name(n.inputs.name)).inspect();
      got[n.inputs.name] = { Internal: info.Internal, Driver: info.Driver, Attachable: info.Attachable, EnableIPv6: info.EnableIPv6 };
      want[n.inputs.name] = { Internal: n.inputs.internal ?? false, Driver: n.inputs.driver ?? "bridge", Attachable: n.inputs.attachable ?? false, EnableIPv6: n.inputs.ipv6 ?? false };
    }
    expect(got).toEqual(want);
    for (const name of [...networksOf("influxdb"), ...networksOf("simulator")]) {
      expect({ name, internal: (await docker.getNetwork(scope.name(name)).inspect()).Internal }).toEqual({ name, internal: true });
    }
  });

  test("a container on an internal network has a default route but cannot reach a listener on another of the stack's networks; on that network it can (iptables isolation)", async () => {
    // Only containers on the networks this test created are contacted: a listener on each
    // non-internal network, probed from every network. Nothing outside this machine is addressed.
    const internal = stack.networks.filter((n) => n.inputs.internal);
    const other = stack.networks.filter((n) => !n.inputs.internal);
    expect(internal.length).toBeGreaterThan(0);
    expect(other.length).toBeGreaterThan(0);
    for (const target of other) {
      const listener = await docker.createContainer({
        name: scope.name(`listener-${target.inputs.name}`),
        Image: baseImageTag(),
        Entrypoint: ["node", "-e", "require('net').createServer((s)=>s.end()).listen(8080,()=>console.log('listening'))"],
        Labels: scope.labels,
        HostConfig: { NetworkMode: scope.name(target.inputs.name) },
      });
      await listener.start();
      await eventually("the listener", 20_000, async () => ((await logs(listener)).stdout.includes("listening") ? true : undefined));
      const address = (await listener.inspect()).NetworkSettings.Networks[scope.name(target.inputs.name)].IPAddress;
      const results: Record<string, { defaultRoute: boolean; connect: string }> = {};
      for (const n of stack.networks) {
        const probe = await runOnce(scope, baseImageTag(), ["-e", ROUTE_PROBE, address, "8080"], { entrypoint: ["node"], networkMode: scope.name(n.inputs.name) });
        results[n.inputs.name] = JSON.parse(probe.stdout.trim());
      }
      await listener.remove({ force: true });
      // the control: from the listener's own network the connection works
      expect(results[target.inputs.name].connect).toBe("connected");
      for (const n of internal) {
        // Engine 20.10 gives the internal network a default route; only dockerd's rules stop the traffic
        expect({ network: n.inputs.name, defaultRoute: results[n.inputs.name].defaultRoute }).toEqual({ network: n.inputs.name, defaultRoute: true });
        expect({ network: n.inputs.name, connect: results[n.inputs.name].connect }).not.toEqual({ network: n.inputs.name, connect: "connected" });
      }
    }
  });

  test("only Grafana publishes a port, on the configured address and port (grafanaBindAddress, grafanaPort)", async () => {
    const bindings: Record<string, unknown> = {};
    for (const service of ["simulator", "influxdb", "grafana"] as const) {
      const c = await deployment.create(stack.service(service));
      bindings[service] = (await c.inspect()).HostConfig.PortBindings ?? {};
      await c.remove({ force: true, v: true });
    }
    const address = config["secure-iot:grafanaBindAddress"];
    const port = config["secure-iot:grafanaPort"];
    const internalPort = (stack.service("grafana").inputs.ports as Array<{ internal: number }>)[0].internal;
    expect(bindings).toEqual({ simulator: {}, influxdb: {}, grafana: { [`${internalPort}/tcp`]: [{ HostIp: address, HostPort: port }] } });
  });

  test("Grafana's published port answers on the configured address and on no other host address (stand-in listener in place of Grafana)", async () => {
    if (!engine?.dockerHost.startsWith("unix://")) {
      console.warn("live port check SKIPPED: the engine is not on this host");
      return;
    }
    const address = config["secure-iot:grafanaBindAddress"];
    const port = Number(config["secure-iot:grafanaPort"]);
    if ((await connect(address, port)) === "connected") {
      console.warn(`live port check SKIPPED: ${address}:${port} is already taken on this host (a running stack?); the recorded binding is checked above`);
      return;
    }
    const grafana = stack.service("grafana");
    const internalPort = (grafana.inputs.ports as Array<{ internal: number }>)[0].internal;
    const container = await deployment.create(grafana, (t) => {
      t.create.name = `${t.create.name}-listener`;
      t.create.Entrypoint = ["node", "-e", `require('http').createServer((q,s)=>s.end('stand-in')).listen(${internalPort},()=>console.log('listening'))`];
      t.create.Cmd = [];
      t.create.Healthcheck = { Test: ["NONE"] };
    });
    await container.start();
    await eventually("the listener", 20_000, async () => ((await logs(container)).stdout.includes("listening") ? true : undefined));
    const info = await container.inspect();
    expect(info.NetworkSettings.Ports).toEqual({ [`${internalPort}/tcp`]: [{ HostIp: address, HostPort: String(port) }] });
    expect(await eventually(`${address}:${port}`, 10_000, async () => ((await connect(address, port)) === "connected" ? "connected" : undefined))).toBe("connected");
    // the gateways of its networks are addresses of this host too; the port must not answer there
    const gateways = Object.values<any>(info.NetworkSettings.Networks).map((n) => n.Gateway).filter(Boolean);
    expect(gateways.length).toBeGreaterThan(0);
    for (const gateway of gateways) {
      if (gateway === address) continue;
      expect({ gateway, result: await connect(gateway, port) }).toEqual({ gateway, result: "ECONNREFUSED" });
    }
  });
});
