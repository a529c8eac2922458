// The program's file staging, for real: each FileVolume loader (created, never started) gets its
// declared uploads the way the provider puts them (one tar per file at "/" of the container); the
// files must land in the volume with the declared modes and owners; InfluxDB's setup script must be
// able to hand each consumer its token through that consumer's own volume; and each service, as
// its own uid, must read exactly what it needs, and nothing another service holds.
import type Docker from "dockerode";
import { Scope, client, engineSuite, runOnce } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { createLoaders, runInfluxSetup, serviceView, volumeAt, volumeContents, type FileFacts, type SetupRun } from "./support/staging";
import { declaredStack, imageResource, serviceOf, type DeclaredStack, type Service } from "./support/stack";

const SERVICES = ["simulator", "influxdb", "grafana"] as const;

engineSuite("file staging through never-started loader containers, on the engine", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  let loaders: Awaited<ReturnType<typeof createLoaders>>;
  let setup: SetupRun | Error;

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    deployment = await prepare(scope, stack, { simulatorImage: true });
    loaders = await createLoaders(deployment);
    setup = await runInfluxSetup(deployment).catch((e: Error) => e);
  }, 8 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  const loadersOf = (service: Service) => stack.loaders.filter((l) => serviceOf(stack, l.inputs.name) === service);
  const loaderVolume = (loader: { inputs: Record<string, any> }) => {
    const mounts = loader.inputs.mounts as Array<{ source: string; target: string }>;
    if (mounts.length !== 1) throw new Error(`${loader.inputs.name} mounts ${mounts.length} volumes; a loader mounts exactly one`);
    return mounts[0];
  };
  const setupRun = () => {
    if (setup instanceof Error) throw setup;
    if (setup.exitCode !== 0) throw new Error(`InfluxDB's setup scripts exited ${setup.exitCode}:\n${setup.output}`);
    return setup;
  };

  test.each(SERVICES)("%s: every upload of its loaders lands in the loader's volume with the declared content, mode and owner", async (service) => {
    for (const loader of loadersOf(service)) {
      const entry = loaders.get(loader.inputs.name);
      if (!entry?.container) throw entry?.error ?? new Error(`${loader.inputs.name} was not created`);
      expect((await entry.container.inspect()).State.Status).toBe("created");
      const { source, target } = loaderVolume(loader);
      const files = await volumeContents(deployment, source);
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const upload of loader.inputs.uploads ?? []) {
        const path = String(upload.file).slice(target.length + 1);
        const f: FileFacts | undefined = files[path];
        got[`${loader.inputs.name}:${path}`] = f && { mode: f.mode, owner: f.owner, content: f.content };
        want[`${loader.inputs.name}:${path}`] = { mode: upload.permissions, owner: `${upload.owner}:${upload.group}`, content: upload.content };
      }
      expect(got).toEqual(want);
    }
  });

  test("each loader's volume root takes the owner and mode of the loader image's directory at the mount path, copied when the loader is created (root 0755 where the image has none)", async () => {
    const got: Record<string, string> = {};
    const want: Record<string, string> = {};
    for (const loader of stack.loaders) {
      const { source, target } = loaderVolume(loader);
      const image = deployment.context.image(loader.inputs.image);
      const inImage = await runOnce(scope, image, ["-c", `stat -c '%a %u:%g' ${target} 2>/dev/null || echo '755 0:0'`], { entrypoint: ["sh"], user: "0:0" });
      const root = (await volumeContents(deployment, source))[""];
      got[loader.inputs.name] = `${root.mode.replace(/^0/, "")} ${root.owner}`;
      want[loader.inputs.name] = inImage.stdout.trim();
    }
    expect(got).toEqual(want);
  });

  test("InfluxDB's setup scripts, run with the InfluxDB container's declared user, environment and mounts (stand-in image and `influx` CLI), hand each consumer its token in its own volume: file `token`, mode 0444, nothing else", async () => {
    const run = setupRun();
    const influx = stack.service("influxdb");
    for (const consumer of ["simulator", "grafana"] as const) {
      const c = stack.service(consumer);
      // the consumer's token volume: the one it mounts that InfluxDB mounts too
      const shared = (c.inputs.mounts as Array<{ source: string }>).map((m) => m.source).filter((v) => (influx.inputs.mounts as Array<{ source: string }>).some((m) => m.source === v));
      expect({ consumer, shared: shared.length }).toEqual({ consumer, shared: 1 });
      const files = await volumeContents(deployment, shared[0]);
      const listed = Object.entries(files).filter(([p]) => p !== "").map(([p, f]) => ({ path: p, mode: f.mode, content: f.content }));
      expect({ consumer, listed }).toEqual({ consumer, listed: [{ path: "token", mode: "0444", content: run.tokens[consumer] }] });
    }
  });

  test.each(SERVICES)(
    "%s, as its declared uid with its declared mounts, reads every file its configuration points at and every file staged for it (InfluxDB and Grafana from stand-in images)",
    async (service) => {
      setupRun();
      const c = stack.service(service);
      const view = await serviceView(deployment, c);
      const [uid, gid] = String(c.inputs.user).split(":").map(Number);
      expect({ uid: view.uid, gid: view.gid }).toEqual({ uid, gid });
      const unreadable = (path: string) => {
        const f = view.files[path];
        if (!f) return "missing";
        if (f.error) return f.error;
        if (f.type === "file" && f.content === undefined) return "not read";
        return undefined;
      };
      const problems: Record<string, string> = {};
      // every absolute path in its environment that lies under one of its volume mounts
      for (const e of (c.inputs.envs ?? []) as string[]) {
        const value = e.slice(e.indexOf("=") + 1);
        if (value.startsWith("/") && volumeAt(c, value)) {
          const why = unreadable(value);
          if (why) problems[e] = why;
        }
      }
      // every file staged for it, at the path it mounts the staged volume on
      for (const loader of loadersOf(service)) {
        const { source, target } = loaderVolume(loader);
        const mount = (c.inputs.mounts as Array<{ source: string; target: string }>).find((m) => m.source === source);
        if (!mount) continue; // a volume staged for another container of the service
        for (const upload of loader.inputs.uploads ?? []) {
          const path = `${mount.target}${String(upload.file).slice(target.length)}`;
          const why = unreadable(path);
          if (why) problems[path] = why;
        }
      }
      expect(problems).toEqual({});
    },
  );

  test.each(["simulator", "grafana"] as const)(
    "%s cannot see another service's token or staged secrets: nothing it can read holds them",
    async (service) => {
      const run = setupRun();
      const c = stack.service(service);
      const view = await serviceView(deployment, c);
      const own = new Set<string>((stack.loaders.filter((l) => serviceOf(stack, l.inputs.name) === service).flatMap((l) => l.inputs.uploads ?? []) as Array<{ content: string }>).map((u) => u.content));
      const foreign = new Map<string, string>();
      for (const [consumer, token] of Object.entries(run.tokens)) if (consumer !== service) foreign.set(token, `${consumer}'s token`);
      for (const loader of stack.loaders) {
        if (serviceOf(stack, loader.inputs.name) === service) continue;
        for (const upload of loader.inputs.uploads ?? []) {
          // staged files of other services, unless the same content is staged for this one too (the CA)
          if (!own.has(upload.content)) foreign.set(upload.content, `${loader.inputs.name}:${upload.file}`);
        }
      }
      const leaks: string[] = [];
      for (const [path, f] of Object.entries(view.files)) {
        for (const [secret, what] of foreign) if (f.content?.includes(secret)) leaks.push(`${path} holds ${what}`);
      }
      expect(leaks).toEqual([]);
      // and its own token is there
      expect(Object.values(view.files).some((f) => f.content === run.tokens[service])).toBe(true);
    },
  );

  test("loaders use the image of the service they stage for (so a copy-up comes from the right image)", () => {
    for (const loader of stack.loaders) {
      const service = serviceOf(stack, loader.inputs.name);
      expect(imageResource(stack, loader.inputs.image)).toBe(imageResource(stack, stack.service(service).inputs.image));
    }
  });
});
