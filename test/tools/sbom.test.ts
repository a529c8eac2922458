// npm run sbom: the SBOMs list exactly the production packages each lockfile records, name the
// package they describe, and a failing npm is reported, never written.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSbom, generateSboms, withoutDevPackages } from "../../tools/sbom";
import { ROOT } from "../support/harness";

/** Independently of the tool: name@version of every lockfile entry that is not dev-only. */
function productionPackages(lockPath: string): string[] {
  const lock = JSON.parse(readFileSync(lockPath, "utf8"));
  const out: string[] = [];
  for (const [path, entry] of Object.entries<any>(lock.packages)) {
    if (path === "" || entry.dev === true) continue;
    const name = entry.name ?? path.split("node_modules/").pop();
    out.push(`${name}@${entry.version}`);
  }
  return [...new Set(out)].sort();
}

function components(sbomPath: string): string[] {
  const doc = JSON.parse(readFileSync(sbomPath, "utf8"));
  return [...new Set<string>(doc.components.map((c: any) => `${c.group ? `${c.group}/` : ""}${c.name}@${c.version}`))].sort();
}

describe("generated from the lockfiles, offline", () => {
  const outDir = mkdtempSync(join(tmpdir(), "sbom-test-"));
  let files: Awaited<ReturnType<typeof generateSboms>>;
  beforeAll(async () => {
    files = await generateSboms({ outDir });
  }, 120_000);

  test("one CycloneDX file per package, named after it, and nothing else", () => {
    expect(readdirSync(outDir).sort()).toEqual(["iot-sensor-simulator.cdx.json", "secure-iot-stack.cdx.json"]);
    for (const f of files) {
      const doc = JSON.parse(readFileSync(f.path, "utf8"));
      expect(doc.bomFormat).toBe("CycloneDX");
      expect(doc.metadata.component).toMatchObject({ name: f.package, version: f.version, type: "application" });
    }
  });

  test.each([
    ["secure-iot-stack", "package-lock.json"],
    ["iot-sensor-simulator", "simulator/package-lock.json"],
  ])("%s: exactly the production packages of %s (none dropped, no dev tool)", (name, lock) => {
    const listed = components(join(outDir, `${name}.cdx.json`));
    expect(listed).toEqual(productionPackages(join(ROOT, lock)));
  });

  test("shared packages survive: the program's direct dependency @balena/dockerignore is listed (npm/cli#7909 would drop it)", () => {
    expect(components(join(outDir, "secure-iot-stack.cdx.json"))).toContain("@balena/dockerignore@1.0.2");
    expect(components(join(outDir, "secure-iot-stack.cdx.json")).some((c) => c.startsWith("jest@"))).toBe(false);
  });
});

test("the staged lockfile keeps production entries, drops dev-only ones and the root's devDependencies", () => {
  const lock = {
    lockfileVersion: 3,
    packages: {
      "": { name: "x", dependencies: { a: "1.0.0" }, devDependencies: { jest: "1.0.0" } },
      "node_modules/a": { version: "1.0.0" },
      "node_modules/shared": { version: "2.0.0" },
      "node_modules/jest": { version: "1.0.0", dev: true },
      "node_modules/ts": { version: "5.0.0", devOptional: true },
    },
  };
  const staged = withoutDevPackages(lock);
  expect(Object.keys(staged.packages)).toEqual(["", "node_modules/a", "node_modules/shared", "node_modules/ts"]);
  expect(JSON.parse(JSON.stringify(staged.packages[""]))).toEqual({ name: "x", dependencies: { a: "1.0.0" } });
});

describe("what is refused", () => {
  test("an SBOM that names another package (npm names the root after the folder)", () => {
    const doc = JSON.stringify({ bomFormat: "CycloneDX", metadata: { component: { name: "main", version: "0.1.0" } }, components: [] });
    expect(() => checkSbom(doc, "secure-iot-stack", "0.1.0")).toThrow("the SBOM describes main@0.1.0, not secure-iot-stack@0.1.0");
  });
  test("output that is not CycloneDX JSON", () => {
    expect(() => checkSbom("npm ERR!", "x", "1")).toThrow(/did not print JSON/);
    expect(() => checkSbom(JSON.stringify({ spdxVersion: "SPDX-2.3" }), "x", "1")).toThrow(/not a CycloneDX document/);
  });
  test("a failing npm: the error is reported and no file is written", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "sbom-fail-"));
    const failing = async () => ({ status: 1, stdout: "", stderr: "npm error code ESBOMPROBLEMS\nnpm error missing: x@1" });
    await expect(generateSboms({ outDir, exec: failing })).rejects.toThrow(/npm sbom failed for secure-iot-stack \(exit 1\): .*ESBOMPROBLEMS/);
    expect(readdirSync(outDir)).toEqual([]);
  });
});
