// The image recipe: its shape (stages, pinned base, what reaches the final image) and its build
// stage run for real on this machine (npm ci, SBOM, build, prune).
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argName, readSimulatorDockerfile, runStage, SIMULATOR_DIR, type Stage } from "./support/dockerfile";

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

  test("the final stage copies only the package file, the SBOM, the production tree and the compiled code", () => {
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
    for (const dev of ["typescript", "@types/node", "undici-types"]) expect(listed.join(" ")).not.toContain(`${dev}@`);
    for (const dependency of Object.keys(pkg.dependencies)) expect(listed.some((c) => c.startsWith(`${dependency}@`))).toBe(true);

    // what the final stage copies is there, and the dev dependencies are gone
    expect(existsSync(join(run.workdir, "dist", "main.js"))).toBe(true);
    expect(existsSync(join(run.workdir, "node_modules", "typescript"))).toBe(false);
    expect(existsSync(join(run.workdir, "node_modules", "pino"))).toBe(true);
  });
});
