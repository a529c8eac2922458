// The image recipe: its shape (stages, pinned base, what reaches the final image) and its build
// stage run for real on this machine (npm ci, SBOM, build, prune), including a build behind a
// TLS-intercepting proxy, emulated by an npm registry whose certificate only a test CA vouches for.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argName, readSimulatorDockerfile, runStage, SIMULATOR_DIR, type Stage } from "./support/dockerfile";
import { createTestCa } from "./support/pki";

const dockerfile = readSimulatorDockerfile();
const buildStage = dockerfile.stages.find((stage) => stage.name === "build") as Stage;
const finalStage = dockerfile.stages[dockerfile.stages.length - 1];
const words = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe("Dockerfile shape", () => {
  test("multi-stage on the digest-pinned Node base, final stage non-root with health check and entrypoint", () => {
    expect(dockerfile.stages).toHaveLength(2);
    expect(buildStage).toBeDefined();
    const nodeImage = dockerfile.globalArgs.find((arg) => argName(arg) === "NODE_IMAGE");
    expect(nodeImage?.args).toMatch(/^NODE_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/);
    for (const stage of dockerfile.stages) expect(stage.from).toBe("${NODE_IMAGE}");
    expect(words(finalStage, "USER").map((i) => i.args)).toEqual(["10001:10001"]);
    expect(words(finalStage, "HEALTHCHECK")).toHaveLength(1);
    expect(words(finalStage, "ENTRYPOINT").map((i) => i.args)).toEqual(['["node", "dist/main.js"]']);
    expect(words(finalStage, "WORKDIR").map((i) => i.args)).toEqual(["/app"]);
  });

  test("BUILD_CA_CERTS is declared in the build stage only and nothing of it is copied into the final image", () => {
    expect(words(buildStage, "ARG").map(argName)).toContain("BUILD_CA_CERTS");
    expect(dockerfile.globalArgs.map(argName)).not.toContain("BUILD_CA_CERTS");
    for (const instruction of finalStage.instructions) expect(instruction.args).not.toMatch(/BUILD_CA_CERTS|NODE_EXTRA_CA_CERTS|\.pem\b/);
    // the final stage copies exactly the package file, the SBOM, the production tree and the compiled code
    const buildDir = words(buildStage, "WORKDIR").pop()?.args as string;
    const copied = words(finalStage, "COPY").flatMap((copy) => {
      const parts = copy.args.split(/\s+/);
      expect(parts[0]).toBe("--from=build");
      return parts.slice(1, -1);
    });
    expect(copied.sort()).toEqual(["dist", "node_modules", "package.json", "sbom.cdx.json"].map((f) => `${buildDir}/${f}`));
  });
});

describe("Dockerfile build stage, run on this machine", () => {
  test("builds, and the SBOM names iot-sensor-simulator and lists exactly the production dependencies", async () => {
    const pkg = JSON.parse(readFileSync(join(SIMULATOR_DIR, "package.json"), "utf8"));
    const lock = JSON.parse(readFileSync(join(SIMULATOR_DIR, "package-lock.json"), "utf8"));
    const run = await runStage({
      context: SIMULATOR_DIR,
      stage: buildStage,
      // this machine's npm settings and cache (filled by the repository's own install)
      baseEnv: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), npm_config_prefer_offline: "true", npm_config_update_notifier: "false" },
    });
    if (!run.ok) throw new Error(`build stage failed at ${run.failure}`);

    const sbom = JSON.parse(readFileSync(join(run.workdir, "sbom.cdx.json"), "utf8"));
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.metadata.component).toMatchObject({
      name: pkg.name,
      version: pkg.version,
      purl: `pkg:npm/${pkg.name}@${pkg.version}`,
    });
    expect(pkg.name).toBe("iot-sensor-simulator");
    const production = Object.entries(lock.packages as Record<string, { dev?: boolean; version: string }>)
      .filter(([path, entry]) => path !== "" && !entry.dev)
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, "")}@${entry.version}`)
      .sort();
    const listed = (sbom.components as Array<{ name: string; version: string }>).map((c) => `${c.name}@${c.version}`).sort();
    expect(listed).toEqual(production);
    expect(listed.join(" ")).not.toContain("typescript@");
    // mqtt's own production dependencies @types/ws and @types/readable-stream need @types/node, so it
    // ships in the image; it is a dependency in package.json (not a devDependency) because
    // `npm sbom --omit dev` leaves out every package that package.json names as a devDependency,
    // even one that production packages also need and that `npm prune --omit=dev` keeps.
    for (const shipped of ["@types/node", "undici-types"]) expect(listed.join(" ")).toContain(`${shipped}@`);
    for (const dependency of Object.keys(pkg.dependencies)) expect(listed.some((c) => c.startsWith(`${dependency}@`))).toBe(true);

    // what the final stage copies is there, and the dev dependencies are gone
    expect(existsSync(join(run.workdir, "dist", "main.js"))).toBe(true);
    expect(existsSync(join(run.workdir, "node_modules", "typescript"))).toBe(false);
    expect(existsSync(join(run.workdir, "node_modules", "pino"))).toBe(true);
  });

  describe("behind a TLS-intercepting proxy (an npm registry whose certificate a test CA signed)", () => {
    let registry: FakeRegistry;
    beforeAll(async () => {
      registry = await startFakeRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
    });

    test("npm ci trusts the CA given as BUILD_CA_CERTS, and leaves no file of it behind", async () => {
      const run = await runStage({ ...registry.runOptions(), buildArgs: { BUILD_CA_CERTS: registry.caPem } });
      if (!run.ok) throw new Error(`build stage failed at ${run.failure}`);
      expect(registry.tarballsServed).toBe(1);
      expect(existsSync(join(run.workdir, "node_modules", registry.dependency, "package.json"))).toBe(true);
      // mktemp writes under TMPDIR: the CA file is removed in the step that made it
      expect(readdirSync(registry.tmp)).toEqual([]);
      expect(findFilesContaining(run.root, "BEGIN CERTIFICATE")).toEqual([]);
    });

    test("without BUILD_CA_CERTS the same build is refused by TLS verification", async () => {
      const before = registry.tarballsServed;
      const run = await runStage(registry.runOptions());
      expect(run.ok).toBe(false);
      expect(run.failure).toMatch(/npm ci/);
      expect(run.failure).toMatch(/certificate|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED/i);
      expect(registry.tarballsServed).toBe(before);
    });
  });
});

interface FakeRegistry {
  caPem: string;
  dependency: string;
  tmp: string;
  tarballsServed: number;
  runOptions(): { context: string; stage: Stage; baseEnv: Record<string, string> };
  stop(): Promise<void>;
}

/**
 * An npm registry on HTTPS, serving one package, with a certificate for localhost signed by a fresh
 * test CA; and a build context of a package that depends on it (with its own lockfile), standing in
 * for the simulator so that the run needs no real registry. npm runs with no user or global config
 * and an empty cache, as in the base image, so only what the Dockerfile adds can make it trust the CA.
 */
async function startFakeRegistry(): Promise<FakeRegistry> {
  const ca = await createTestCa("Intercepting Proxy Test CA");
  const tls = await ca.issue({ dns: ["localhost"], ips: ["127.0.0.1"] });
  const work = mkdtempSync(join(tmpdir(), "sim-registry-"));
  const dependency = "tiny-dependency";
  const packageDir = join(work, "tarball", "package");
  mkdirSync(packageDir, { recursive: true });
  writeFileSync(join(packageDir, "package.json"), JSON.stringify({ name: dependency, version: "1.0.0", main: "index.js" }));
  writeFileSync(join(packageDir, "index.js"), "module.exports = 1;\n");
  const tarball = join(work, "tiny.tgz");
  const tar = spawnSync("tar", ["-czf", tarball, "-C", join(work, "tarball"), "package"], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const bytes = readFileSync(tarball);
  const integrity = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;

  const state = { tarballsServed: 0 };
  let port = 0;
  const tarballPath = `/${dependency}/-/${dependency}-1.0.0.tgz`;
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    if (req.url === tarballPath) {
      state.tarballsServed++;
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes);
    } else if (req.url === `/${dependency}`) {
      const version = { name: dependency, version: "1.0.0", dist: { tarball: `https://localhost:${port}${tarballPath}`, integrity } };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: dependency, "dist-tags": { latest: "1.0.0" }, versions: { "1.0.0": version } }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;

  const context = join(work, "context");
  mkdirSync(join(context, "src"), { recursive: true });
  const name = "iot-sensor-simulator";
  writeFileSync(
    join(context, "package.json"),
    JSON.stringify({ name, version: "0.0.1", private: true, dependencies: { [dependency]: "1.0.0" }, scripts: { build: "mkdir -p dist && touch dist/main.js" } }),
  );
  writeFileSync(
    join(context, "package-lock.json"),
    JSON.stringify({
      name,
      version: "0.0.1",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { name, version: "0.0.1", dependencies: { [dependency]: "1.0.0" } },
        [`node_modules/${dependency}`]: { version: "1.0.0", resolved: `https://localhost:${port}${tarballPath}`, integrity },
      },
    }),
  );
  writeFileSync(join(context, "tsconfig.json"), "{}\n");
  const emptyUserConfig = join(work, "user-npmrc");
  const emptyGlobalConfig = join(work, "global-npmrc");
  writeFileSync(emptyUserConfig, "");
  writeFileSync(emptyGlobalConfig, "");
  const tmp = join(work, "tmp");
  mkdirSync(tmp);

  return {
    caPem: ca.certPem,
    dependency,
    tmp,
    get tarballsServed() {
      return state.tarballsServed;
    },
    runOptions: () => ({
      context,
      stage: buildStage,
      baseEnv: {
        PATH: process.env.PATH ?? "",
        HOME: work,
        TMPDIR: tmp,
        npm_config_registry: `https://localhost:${port}/`,
        npm_config_cache: mkdtempSync(join(work, "cache-")),
        npm_config_userconfig: emptyUserConfig,
        npm_config_globalconfig: emptyGlobalConfig,
        npm_config_fetch_retries: "0",
        npm_config_update_notifier: "false",
      },
    }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function findFilesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if (readFileSync(path).includes(needle)) hits.push(path);
  }
  return hits;
}
