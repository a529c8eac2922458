// Every container the program declares for the dev stack (services and FileVolume loaders), taken
// from the program under mocks, created on the engine with the same settings through
// support/translate.ts, then inspected: the engine must have recorded each setting as declared,
// dropped none and changed none. InfluxDB's and Grafana's images cannot be pulled here; their
// containers are created from stand-ins (the local base with the real image's directories), which
// is enough for what these tests are about: the engine's handling of the declared settings.
import type Docker from "dockerode";
import type { RecordedResource } from "../support/harness";
import { Scope, client, engineSuite, logs, withDeadline } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { SERVICES as PROGRAM_SERVICES, declaredStack, imageResource, serviceOf, type DeclaredStack } from "./support/stack";
import type { Translation } from "./support/translate";

/**
 * The settings of a create body, in the shape inspect reports them, so both can be compared.
 * What the engine does on its own, and so is not compared or is normalised (Engine 20.10):
 *   - settings the program leaves undeclared (IpcMode, Healthcheck, Hostname, Cmd, StopTimeout)
 *     show the engine's default or the image's value: compared only where declared;
 *   - false and empty fields of a mount are omitted (ReadOnly: false, NoCopy: false);
 *   - NetworkMode "none" shows as an endpoint "none" without aliases;
 *   - a network connected after create gets the container's short id as an extra alias, and its
 *     hostname when that differs from the container's name (moby/moby#39204).
 */
function settings(t: Translation) {
  const c = t.create;
  const h = c.HostConfig ?? {};
  const networks: Record<string, string[]> = Object.fromEntries([
    ...Object.entries(c.NetworkingConfig?.EndpointsConfig ?? {}).map(([n, e]) => [n, [...((e as { Aliases?: string[] }).Aliases ?? [])].sort()]),
    ...t.connect.map((n) => [n.network, [...(n.aliases ?? [])].sort()]),
  ]);
  if (Object.keys(networks).length === 0 && h.NetworkMode) networks[h.NetworkMode] = [];
  return {
    User: c.User ?? "",
    Hostname: c.Hostname,
    StopTimeout: c.StopTimeout,
    Healthcheck: c.Healthcheck,
    Cmd: c.Cmd,
    ReadonlyRootfs: h.ReadonlyRootfs,
    Tmpfs: h.Tmpfs ?? {},
    Privileged: h.Privileged,
    CapAdd: h.CapAdd ?? [],
    CapDrop: h.CapDrop ?? [],
    SecurityOpt: h.SecurityOpt ?? [],
    IpcMode: h.IpcMode,
    Init: h.Init,
    Memory: h.Memory ?? 0,
    MemorySwap: h.MemorySwap ?? 0,
    NanoCpus: h.NanoCpus ?? 0,
    RestartPolicy: h.RestartPolicy,
    LogConfig: h.LogConfig,
    PortBindings: h.PortBindings ?? {},
    Mounts: (h.Mounts ?? []).map((m) => {
      const out: Record<string, unknown> = { ...m };
      if (out.ReadOnly === false) delete out.ReadOnly;
      const v = out.VolumeOptions as Record<string, unknown> | undefined;
      if (v) {
        const kept = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== false && x !== undefined));
        if (Object.keys(kept).length === 0) delete out.VolumeOptions;
        else out.VolumeOptions = kept;
      }
      return out;
    }),
    NetworkMode: h.NetworkMode,
    Networks: networks,
  };
}

function recorded(info: Docker.ContainerInspectInfo, t: Translation) {
  const h = info.HostConfig as Record<string, any>;
  const c = info.Config as Record<string, any>;
  const declared = (key: string, value: unknown) => ((t.create as Record<string, unknown>)[key] === undefined ? undefined : value);
  const shortId = info.Id.slice(0, 12);
  const connectedLater = new Set(t.connect.map((n) => n.network));
  return {
    User: c.User,
    Hostname: declared("Hostname", c.Hostname),
    StopTimeout: declared("StopTimeout", c.StopTimeout),
    Healthcheck: declared("Healthcheck", c.Healthcheck),
    Cmd: declared("Cmd", c.Cmd),
    ReadonlyRootfs: h.ReadonlyRootfs,
    Tmpfs: h.Tmpfs ?? {},
    Privileged: h.Privileged,
    // The engine reports an empty list as null.
    CapAdd: h.CapAdd ?? [],
    CapDrop: h.CapDrop ?? [],
    SecurityOpt: h.SecurityOpt ?? [],
    IpcMode: t.create.HostConfig?.IpcMode === undefined ? undefined : h.IpcMode,
    Init: h.Init,
    Memory: h.Memory,
    MemorySwap: h.MemorySwap,
    NanoCpus: h.NanoCpus,
    RestartPolicy: h.RestartPolicy,
    LogConfig: h.LogConfig,
    PortBindings: h.PortBindings ?? {},
    Mounts: h.Mounts ?? [],
    NetworkMode: h.NetworkMode,
    Networks: Object.fromEntries(
      Object.entries<any>(info.NetworkSettings.Networks ?? {}).map(([n, e]) => [
        n,
        [...(e.Aliases ?? [])].filter((a: string) => a !== shortId && !(connectedLater.has(n) && a === c.Hostname && !t.connect.find((x) => x.network === n)?.aliases?.includes(a))).sort(),
      ]),
    ),
  };
}

const SERVICES = ["simulator", "influxdb", "grafana"] as const;

engineSuite("the containers the program declares (dev stack), as the engine records them", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  const created = new Map<string, { container?: Docker.Container; translation?: Translation; error?: Error }>();

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    deployment = await prepare(scope, stack, { simulatorImage: true });
    // Loaders first, as the program orders them (services depend on their files).
    const ordered = [...stack.loaders, ...stack.containers.filter((c) => !stack.loaders.includes(c))];
    for (const c of ordered) {
      try {
        const translation = deployment.translate(c);
        const container = await deployment.create(c);
        created.set(c.inputs.name, { container, translation });
      } catch (error) {
        created.set(c.inputs.name, { error: error as Error });
      }
    }
  }, 8 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  const made = (name: string) => {
    const entry = created.get(name);
    if (!entry?.container || !entry.translation) throw entry?.error ?? new Error(`${name} was not created`);
    return { container: entry.container, translation: entry.translation };
  };
  const title = (c: RecordedResource) => {
    const image = imageResource(stack, c.inputs.image);
    const kind = image === stack.builtImage ? "the simulator image built from simulator/" : `a stand-in for ${image.inputs.name}`;
    return `${c.inputs.name}${c.inputs.start === false ? " (loader, never started)" : ""}, from ${kind}`;
  };

  test("the program declares the three services and their loaders", () => {
    expect(SERVICES.map((s) => stack.service(s).inputs.name)).toHaveLength(3);
    expect(stack.loaders.length).toBeGreaterThan(0);
    for (const loader of stack.loaders) expect(loader.inputs.start).toBe(false);
  });

  test.each(PROGRAM_SERVICES)(
    "%s: its container and its loaders, created with the declared settings, are recorded with every one of them (InfluxDB, Grafana, the broker and the bridge from stand-in images)",
    async (service) => {
      const mine = stack.containers.filter((c) => serviceOf(stack, c.inputs.name) === service);
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const c of mine) {
        const { container, translation } = made(c.inputs.name);
        const info = await container.inspect();
        console.log(`checked ${title(c)}`);
        got[c.inputs.name] = recorded(info, translation);
        want[c.inputs.name] = settings(translation);
        // declared environment and labels are all there (the image may add environment of its own)
        for (const e of translation.create.Env ?? []) expect(info.Config.Env).toContain(e);
        expect(info.Config.Labels).toMatchObject(translation.create.Labels ?? {});
        // created only: nothing started it
        expect(info.State.Status).toBe("created");
      }
      expect(got).toEqual(want);
    },
  );

  test("the declared limits are the stack's configuration: memory and swap in MiB, cpus in NanoCpus", async () => {
    for (const s of SERVICES) {
      const c = stack.service(s);
      const info = await made(c.inputs.name).container.inspect();
      expect({ s, Memory: info.HostConfig.Memory, MemorySwap: info.HostConfig.MemorySwap, NanoCpus: info.HostConfig.NanoCpus }).toEqual({
        s,
        Memory: c.inputs.memory * 1024 * 1024,
        MemorySwap: c.inputs.memorySwap * 1024 * 1024,
        NanoCpus: Math.round(Number(c.inputs.cpus) * 1e9),
      });
    }
  });

  test.each(SERVICES)(
    "%s: started with the declared settings, every declared tmpfs is writable by the declared user (stand-in images keep the real image's directory owners)",
    async (service) => {
      const c = stack.service(service);
      const paths = Object.keys(c.inputs.tmpfs ?? {});
      if (paths.length === 0) return;
      // A probe command in place of the service's own: it writes a file into each tmpfs and
      // reports owner and mode of the mount's root. Exit status 0 always (no restarts).
      const script =
        "const fs=require('fs');const out={};for(const p of JSON.parse(process.argv[1])){const s=fs.statSync(p);let w;" +
        "try{fs.writeFileSync(p+'/.probe','x');w=true}catch(e){w=e.code}out[p]={owner:s.uid+':'+s.gid,mode:(s.mode&0o7777).toString(8),writable:w}}" +
        "console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),out}))";
      const container = await deployment.create(c, (t) => {
        t.create.name = `${t.create.name}-tmpfs-probe`;
        t.create.Entrypoint = ["node"];
        t.create.Cmd = ["-e", script, JSON.stringify(paths)];
        t.create.Healthcheck = { Test: ["NONE"] };
        t.connect = [];
        t.create.NetworkingConfig = undefined;
        t.create.HostConfig!.NetworkMode = "none";
      });
      await container.start();
      await withDeadline(`${service} tmpfs probe`, 30_000, () => container.wait());
      const report = JSON.parse((await logs(container)).stdout.trim().split("\n").pop() ?? "{}");
      const [uid, gid] = String(c.inputs.user).split(":").map(Number);
      expect({ uid: report.uid, gid: report.gid }).toEqual({ uid, gid });
      const writable = Object.fromEntries(Object.entries<any>(report.out).map(([p, r]) => [p, r.writable === true ? true : `${r.writable} (mount root ${r.owner} mode ${r.mode})`]));
      expect(writable).toEqual(Object.fromEntries(paths.map((p) => [p, true])));
    },
  );

  test("every loader and service belongs to one of the program's services (names follow the program's prefixes)", () => {
    for (const c of stack.containers) expect(PROGRAM_SERVICES).toContain(serviceOf(stack, c.inputs.name));
  });
});
