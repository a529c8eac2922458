// npm run sbom: CycloneDX SBOMs of the production dependencies of the Pulumi program and of the
// simulator, written to sbom/ (git-ignored: they are regenerated from the lockfiles on demand).
//
// npm's own generator (`npm sbom`), from the lockfile alone (--package-lock-only, --offline): no
// node_modules needed, no network. Two things are worked around, in a temporary copy of each
// package's manifest and lockfile:
// - npm names the root component after the folder it runs in, not after package.json's name, so
//   the copy sits in a folder named after the package (the simulator's Dockerfile does the same);
// - `npm sbom --omit dev` also drops production packages that a dev dependency shares (npm/cli
//   issue #7909, open; here it dropped 76 of the program's 227, among them @balena/dockerignore
//   and @grpc/grpc-js), so the copy carries no dev dependencies at all: devDependencies removed
//   from package.json and the lockfile's root, and every lockfile entry marked "dev" removed.
//   What remains is exactly the production tree the lockfile records.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exec as realExec, type Exec, ROOT } from "./common";

/** The packages whose production dependencies ship: the program (which includes the policy pack's) and the simulator. */
export const PACKAGES = [
  { dir: ".", what: "the Pulumi program (and the policy pack, which resolves its dependencies from the program's)" },
  { dir: "simulator", what: "the simulator (the same dependencies its image carries at /app/sbom.cdx.json)" },
];

export const SBOM_DIR = "sbom";

export const NPM_SBOM_ARGS = ["sbom", "--sbom-format", "cyclonedx", "--sbom-type", "application", "--omit", "dev", "--package-lock-only", "--offline"];

/** A lockfile (v2/v3) without its dev-only packages and without the root's devDependencies. */
export function withoutDevPackages(lock: any): any {
  const packages: Record<string, any> = {};
  for (const [path, entry] of Object.entries<any>(lock.packages ?? {})) {
    if (entry?.dev === true) continue;
    packages[path] = path === "" ? { ...entry, devDependencies: undefined } : entry;
  }
  return { ...lock, packages };
}

export interface SbomFile {
  package: string;
  version: string;
  path: string;
  components: number;
}

/** What an SBOM must look like before it is written: CycloneDX, naming the package it describes. */
export function checkSbom(text: string, name: string, version: string): { components: number } {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`npm sbom did not print JSON: ${(error as Error).message}`);
  }
  if (doc?.bomFormat !== "CycloneDX") throw new Error(`not a CycloneDX document (bomFormat: ${JSON.stringify(doc?.bomFormat)})`);
  const root = doc.metadata?.component;
  if (root?.name !== name || root?.version !== version) {
    throw new Error(`the SBOM describes ${root?.name}@${root?.version}, not ${name}@${version}`);
  }
  if (!Array.isArray(doc.components)) throw new Error("the SBOM lists no components");
  return { components: doc.components.length };
}

export async function generateSboms(options: { root?: string; outDir?: string; exec?: Exec } = {}): Promise<SbomFile[]> {
  const root = options.root ?? ROOT;
  const outDir = options.outDir ?? join(root, SBOM_DIR);
  const run = options.exec ?? realExec;
  mkdirSync(outDir, { recursive: true });
  const written: SbomFile[] = [];
  for (const pkg of PACKAGES) {
    const source = join(root, pkg.dir);
    const manifest = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
    const name = String(manifest.name);
    const version = String(manifest.version);
    const work = mkdtempSync(join(tmpdir(), "sbom-"));
    try {
      const folder = join(work, name);
      mkdirSync(folder);
      const stagedManifest = { ...manifest };
      delete stagedManifest.devDependencies;
      writeFileSync(join(folder, "package.json"), JSON.stringify(stagedManifest, null, 2));
      writeFileSync(join(folder, "package-lock.json"), JSON.stringify(withoutDevPackages(JSON.parse(readFileSync(join(source, "package-lock.json"), "utf8"))), null, 2));
      const result = await run("npm", NPM_SBOM_ARGS, { cwd: folder });
      if (result.status !== 0) {
        throw new Error(`npm sbom failed for ${name} (${result.error ?? `exit ${result.status}`}): ${result.stderr.trim().split("\n").slice(-5).join(" / ")}`);
      }
      const { components } = checkSbom(result.stdout, name, version);
      const path = join(outDir, `${name}.cdx.json`);
      writeFileSync(path, result.stdout.endsWith("\n") ? result.stdout : `${result.stdout}\n`);
      written.push({ package: name, version, path, components });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return written;
}

async function main(): Promise<number> {
  try {
    const files = await generateSboms();
    for (const f of files) console.log(`${f.path.replace(`${ROOT}/`, "")}: ${f.package}@${f.version}, ${f.components} production components (CycloneDX)`);
    return 0;
  } catch (error) {
    console.error(`sbom: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) void main().then((code) => process.exit(code));
