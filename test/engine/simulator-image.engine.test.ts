// The simulator image, built on the engine with BuildKit from simulator/ with the build inputs the
// program declares (its docker.Image under mocks: context, dockerfile, platform, args), plus
// NODE_IMAGE = the local base (no registry here) and BUILD_CA_CERTS = the host's CAs. Then what the
// image must be: non-root, with its health check, with an SBOM of what ships, and without any of
// the certificates it was built with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { ROOT, Scope, client, engineSuite, readImageFile, runOnce, withDeadline } from "./support/engine";
import { buildSimulator, certificateNeedles, declaredStack, pemCertificates, tail, type DeclaredStack, type SimulatorBuild } from "./support/stack";

engineSuite("the simulator image, built on the engine as the program declares it", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let build: SimulatorBuild;

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    build = await buildSimulator(scope, stack);
    console.log(`simulator image ${build.ok ? "built" : "FAILED"} in ${build.seconds.toFixed(0)} s with build args ${JSON.stringify(build.argsShown)}`);
  }, 6 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  const image = (): string => {
    if (!build.ok) throw new Error("the simulator image did not build (see the first test)");
    return build.tag;
  };

  test("builds from simulator/ with BuildKit, the program's build inputs, NODE_IMAGE = the local base and BUILD_CA_CERTS", () => {
    if (!build.ok) throw new Error(`docker build failed:\n${tail(build.log, 60)}`);
    expect(build.ok).toBe(true);
  });

  test("runs as the non-root user the program runs it as (10001)", async () => {
    const declaredUser = String(stack.service("simulator").inputs.user);
    const info = await docker.getImage(image()).inspect();
    expect(info.Config.User.split(":")[0]).toBe(declaredUser.split(":")[0]);
    // What a process in it really runs as, with the image's own user.
    const probe = await runOnce(scope, image(), ["-e", "process.stdout.write(`${process.getuid()}:${process.getgid()}`)"], { entrypoint: ["node"] });
    expect(probe).toMatchObject({ exitCode: 0, stdout: declaredUser });
    expect(declaredUser).not.toMatch(/^0(:|$)/);
  });

  test("has its HEALTHCHECK, the command the program's container declares", async () => {
    const info = await docker.getImage(image()).inspect();
    expect(info.Config.Healthcheck?.Test).toEqual(stack.service("simulator").inputs.healthcheck.tests);
  });

  test("carries a CycloneDX SBOM (/app/sbom.cdx.json) of the production dependencies only, matching what ships", async () => {
    const sbom = JSON.parse((await readImageFile(scope, image(), "/app/sbom.cdx.json")).toString("utf8"));
    expect(sbom.bomFormat).toBe("CycloneDX");
    const lock = JSON.parse(readFileSync(join(ROOT, "simulator", "package-lock.json"), "utf8"));
    const packages = Object.entries<any>(lock.packages).filter(([path]) => path.startsWith("node_modules/"));
    const name = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const production = new Set(packages.filter(([, p]) => !p.dev).map(([path]) => name(path)));
    const development = new Set(packages.filter(([, p]) => p.dev).map(([path]) => name(path)));
    const listed = new Set<string>((sbom.components ?? []).map((c: any) => (c.group ? `${c.group}/${c.name}` : c.name)));

    expect([...production].filter((p) => !listed.has(p))).toEqual([]);
    // No development tooling. Type packages only where a production dependency declares them as
    // its own runtime dependencies (mqtt 5.16.0: @types/ws, @types/readable-stream, which need
    // @types/node): the lockfile marks those as production, and npm prune --omit=dev keeps them.
    expect([...listed].filter((c) => development.has(c) || c === "typescript" || (c.startsWith("@types/") && !production.has(c)))).toEqual([]);
    // and what the image really ships in node_modules is the same production tree
    const shipped = await runOnce(
      scope,
      image(),
      [
        "-e",
        "const fs=require('fs');const out=[];for(const d of fs.readdirSync('/app/node_modules')){if(d.startsWith('.'))continue;" +
          "if(d.startsWith('@')){for(const s of fs.readdirSync('/app/node_modules/'+d))out.push(d+'/'+s)}else out.push(d)}console.log(JSON.stringify(out))",
      ],
      { entrypoint: ["node"] },
    );
    const topLevel = JSON.parse(shipped.stdout) as string[];
    expect(topLevel.filter((p) => development.has(p))).toEqual([]);
    expect(topLevel.filter((p) => !listed.has(p))).toEqual([]);
  });

  test("no certificate text from BUILD_CA_CERTS is in the final image: not in its config, history or any file", async () => {
    const needles = certificateNeedles(build.buildCa.pem);
    expect(needles.length).toBe(pemCertificates(build.buildCa.pem).length);
    const info = await docker.getImage(image()).inspect();
    const history = await docker.getImage(image()).history();
    const found = (text: string) => needles.filter((n) => text.includes(n));
    expect(found(JSON.stringify(info))).toEqual([]);
    expect(found(JSON.stringify(history))).toEqual([]);
    // Every layer and the image config, as `docker save` exports them.
    const hits = await withDeadline("scanning the saved image", 120_000, async () => scan(await docker.getImage(image()).get(), needles));
    expect(hits).toEqual([]);
    // The canary, made for the tier and nowhere else, really was passed: the check is not vacuous.
    expect(build.buildCa.pem).toContain(certificateNeedles(build.buildCa.canaryPem)[0]);
  }, 3 * 60_000);
});

/** Which needles occur anywhere in a byte stream (matches across chunk boundaries included). */
async function scan(stream: NodeJS.ReadableStream, needles: string[]): Promise<string[]> {
  const wanted = needles.map((n) => Buffer.from(n, "latin1"));
  const keep = Math.max(...wanted.map((n) => n.length)) - 1;
  const hits = new Set<string>();
  let carry = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const window = Buffer.concat([carry, chunk]);
    wanted.forEach((n, i) => {
      if (window.includes(n)) hits.add(needles[i]);
    });
    carry = window.subarray(Math.max(0, window.length - keep));
  }
  return [...hits];
}
