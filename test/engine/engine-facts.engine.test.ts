// Facts about the engine's behaviour that the program relies on, each checked on its own with a
// small image made for it, so that an engine that behaves differently is noticed here, by name,
// rather than as a puzzling failure elsewhere. The engine's version is printed with each run.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { Scope, apiLevel, client, engineSuite, engineVersion, logs, runOnce, tar, volumeMount, withDeadline } from "./support/engine";
import { baseImageTag, buildImage, tail } from "./support/stack";

const STAT = ["-c", "stat -c '%a %u:%g' /v"];

engineSuite("engine behaviour the program relies on", () => {
  let docker: Docker;
  let scope: Scope;
  let plain: string;
  let declared: string;

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    console.log(`engine facts of Docker Engine ${engineVersion?.version} (API ${engineVersion?.apiVersion})`);
    // The influxdb image's directories (influxdata-docker influxdb/2.9/Dockerfile): /etc/influxdb2
    // created empty and chowned to influxdb (1000:1000), mode 0755; once without and once with the
    // image's VOLUME declaration.
    const lines = [`FROM ${baseImageTag()}`, "RUN mkdir -p /etc/influxdb2 && chown 1000:1000 /etc/influxdb2 && chmod 0755 /etc/influxdb2"];
    const build = async (tag: string, text: string) => {
      const r = await buildImage({ tag, dockerfileText: text, labels: scope.labels, deadlineMs: 120_000 });
      if (!r.ok) throw new Error(`${tag} did not build:\n${tail(r.log)}`);
      return tag;
    };
    plain = await build(`iot-test/facts-plain:${scope.id}`, lines.join("\n") + "\n");
    declared = await build(`iot-test/facts-volume:${scope.id}`, [...lines, "VOLUME /etc/influxdb2", ""].join("\n"));
  }, 4 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  const volume = async () => {
    const name = scope.name(`v-${randomBytes(3).toString("hex")}`);
    await docker.createVolume({ Name: name, Labels: scope.labels });
    return name;
  };
  /** owner and mode of a volume's root, seen through a container that copies nothing into it */
  const rootOf = async (name: string) => (await runOnce(scope, baseImageTag(), STAT, { entrypoint: ["sh"], mounts: [volumeMount(name, "/v")] })).stdout.trim();
  const createOnly = (image: string, mounts: Docker.MountSettings[], extra: Partial<Docker.ContainerCreateOptions> = {}) =>
    docker.createContainer({ name: scope.name(`c-${randomBytes(3).toString("hex")}`), Image: image, Labels: scope.labels, HostConfig: { Mounts: mounts, NetworkMode: "none" }, ...extra });

  test.each([
    ["without", () => plain],
    ["with", () => declared],
  ])(
    "creating (never starting) a container that mounts an empty named volume on an image directory owned 1000:1000 mode 0755 (%s VOLUME in the image) gives the volume's root that owner and mode",
    async (_label, image) => {
      const name = await volume();
      expect(await rootOf(name)).toBe("755 0:0");
      const c = await createOnly(image(), [{ Type: "volume", Source: name, Target: "/etc/influxdb2" } as Docker.MountSettings]);
      expect((await c.inspect()).State.Status).toBe("created");
      expect(await rootOf(name)).toBe("755 1000:1000");
    },
  );

  test("the copy happens while the volume is empty: a later container at a path its image lacks leaves the owner alone; one at an existing root-owned directory takes it back to root", async () => {
    const name = await volume();
    await createOnly(plain, [{ Type: "volume", Source: name, Target: "/etc/influxdb2" } as Docker.MountSettings]);
    await createOnly(plain, [{ Type: "volume", Source: name, Target: "/no/such/dir" } as Docker.MountSettings]);
    expect(await rootOf(name)).toBe("755 1000:1000");
    await createOnly(plain, [{ Type: "volume", Source: name, Target: "/mnt" } as Docker.MountSettings]);
    expect(await rootOf(name)).toBe("755 0:0");
  });

  test("NoCopy: a volume mounted with volume-nocopy keeps root 0755 even on the 1000:1000 directory", async () => {
    const name = await volume();
    await createOnly(plain, [{ Type: "volume", Source: name, Target: "/etc/influxdb2", VolumeOptions: { NoCopy: true } } as Docker.MountSettings]);
    expect(await rootOf(name)).toBe("755 0:0");
  });

  test("an archive put at / of a never-started container lands in its volume with the tar headers' owner and mode; missing parent directories are made root:root 0755", async () => {
    const name = await volume();
    const c = await createOnly(baseImageTag(), [{ Type: "volume", Source: name, Target: "/staging" } as Docker.MountSettings], { User: "65534:65534" });
    await c.putArchive(tar([{ name: "/staging/secrets/token", content: "t0ken", mode: 0o444, uid: 1000, gid: 1001 }]), { path: "/" });
    const r = await runOnce(scope, baseImageTag(), ["-c", "stat -c '%n %a %u:%g' /v/secrets /v/secrets/token; cat /v/secrets/token"], {
      entrypoint: ["sh"],
      mounts: [volumeMount(name, "/v")],
    });
    expect(r.stdout.trim().split("\n")).toEqual(["/v/secrets 755 0:0", "/v/secrets/token 444 1000:1001", "t0ken"]);
  });

  test("the engine refuses an archive put at / of a container with a read-only root filesystem, even when every file would land in a volume (why loaders have a writable root)", async () => {
    const name = await volume();
    const c = await createOnly(baseImageTag(), [{ Type: "volume", Source: name, Target: "/staging" } as Docker.MountSettings], {
      HostConfig: { ReadonlyRootfs: true, NetworkMode: "none", Mounts: [{ Type: "volume", Source: name, Target: "/staging" } as Docker.MountSettings] },
    });
    await expect(c.putArchive(tar([{ name: "/staging/x", content: "x", mode: 0o444 }]), { path: "/" })).rejects.toThrow(/read-only/);
  });

  test("volume subpaths: an engine before API 1.45 ignores VolumeOptions.Subpath and mounts the whole volume; from 1.45 only the subpath", async () => {
    const name = await volume();
    await runOnce(scope, baseImageTag(), ["-c", "mkdir -p /v/mine /v/theirs && echo mine > /v/mine/token && echo theirs > /v/theirs/token"], {
      entrypoint: ["sh"],
      mounts: [volumeMount(name, "/v")],
    });
    const seen = await runOnce(scope, baseImageTag(), ["-c", "cd /m && find . -type f | sort"], {
      entrypoint: ["sh"],
      mounts: [{ Type: "volume", Source: name, Target: "/m", ReadOnly: true, VolumeOptions: { NoCopy: true, Subpath: "mine" } } as Docker.MountSettings],
    });
    const files = seen.stdout.trim().split("\n");
    if (apiLevel(engineVersion!.apiVersion) < 1.45) expect(files).toEqual(["./mine/token", "./theirs/token"]);
    else expect(files).toEqual(["./token"]);
  });

  test("a tmpfs (HostConfig.Tmpfs) on an image directory gets that directory's mode but is owned by root; `mode=` is overridden, `uid=`/`gid=` are honoured", async () => {
    const probe = async (options: string) => {
      const c = await docker.createContainer({
        name: scope.name(`t-${randomBytes(3).toString("hex")}`),
        Image: plain,
        User: "1000:1000",
        Entrypoint: ["sh", "-c", "stat -c '%a %u:%g' /etc/influxdb2; touch /etc/influxdb2/x 2>/dev/null && echo writable || echo denied"],
        Labels: scope.labels,
        HostConfig: { ReadonlyRootfs: true, NetworkMode: "none", Tmpfs: { "/etc/influxdb2": `rw,noexec,nosuid,nodev,${options}` } },
      });
      await c.start();
      await withDeadline("tmpfs probe", 30_000, () => c.wait());
      return (await logs(c)).stdout.trim().split("\n").join(" ");
    };
    expect({
      plain: await probe("size=1m"),
      mode: await probe("size=1m,mode=1777"),
      owner: await probe("size=1m,uid=1000,gid=1000"),
    }).toEqual({
      plain: "755 0:0 denied",
      mode: "755 0:0 denied",
      owner: "755 1000:1000 writable",
    });
  });

  test("`docker stop` without a timeout uses the container's StopTimeout before it sends SIGKILL", async () => {
    const c = await docker.createContainer({
      name: scope.name(`s-${randomBytes(3).toString("hex")}`),
      Image: baseImageTag(),
      // PID 1 without a SIGTERM handler ignores SIGTERM, so only SIGKILL ends it
      Entrypoint: ["node", "-e", "process.on('SIGTERM',()=>{});setInterval(()=>{},1000);console.log('up')"],
      StopTimeout: 3,
      Labels: scope.labels,
      HostConfig: { NetworkMode: "none" },
    });
    await c.start();
    const started = Date.now();
    await withDeadline("docker stop", 30_000, () => c.stop());
    const seconds = (Date.now() - started) / 1000;
    const state = (await c.inspect()).State;
    expect({ killed: state.ExitCode === 137, between3and8s: seconds >= 3 && seconds < 8 }).toEqual({ killed: true, between3and8s: true });
  });
});
