// renovate.json: the regex manager finds every image pin of components/images.ts, with the tag
// and digest the program actually deploys; the simulator's base image is written the way
// Renovate's dockerfile manager reads it (an ARG default that the FROM lines use); every rule
// names files and managers that exist. Renovate itself is not run here (it needs Node.js 24);
// docs/UPDATING.md records the extract run that checked the same on this tree.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GRAFANA_IMAGE, INFLUXDB_IMAGE, MOSQUITTO_IMAGE, TELEGRAF_IMAGE } from "../../components/images";
import { ROOT } from "../support/harness";

const config = JSON.parse(readFileSync(join(ROOT, "renovate.json"), "utf8"));
/** Every file git tracks: what Renovate's managerFilePatterns are matched against. */
const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);

/** Renovate's "/regex/" pattern syntax (a string that is not between slashes is a glob; we use none). */
function pattern(value: string): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/.exec(value);
  if (!match) throw new Error(`${value} is not a /regex/ pattern`);
  return new RegExp(match[1], match[2]);
}

function pin(ref: string) {
  const match = /^(.+):([^:@]+)@(sha256:[0-9a-f]{64})$/.exec(ref);
  if (!match) throw new Error(`${ref} is not name:tag@digest`);
  return { depName: match[1], currentValue: match[2], currentDigest: match[3] };
}

describe("the regex manager of components/images.ts", () => {
  const managers: any[] = config.customManagers;

  test("is the only custom manager, of type regex, on the docker datasource with docker versioning", () => {
    expect(managers).toHaveLength(1);
    expect(managers[0]).toMatchObject({ customType: "regex", datasourceTemplate: "docker", versioningTemplate: "docker" });
    expect(config.enabledManagers).toEqual(expect.arrayContaining(["custom.regex"]));
  });

  test("its file pattern matches components/images.ts and no other tracked file", () => {
    const matched = files.filter((f) => managers[0].managerFilePatterns.some((p: string) => pattern(p).test(f)));
    expect(matched).toEqual(["components/images.ts"]);
  });

  test("its match strings find exactly the pins the program deploys, with tag and digest", () => {
    const text = readFileSync(join(ROOT, "components", "images.ts"), "utf8");
    const found = managers[0].matchStrings.flatMap((s: string) => [...text.matchAll(new RegExp(s, "g"))].map((m) => ({ ...m.groups })));
    expect(found).toEqual([pin(INFLUXDB_IMAGE), pin(GRAFANA_IMAGE), pin(MOSQUITTO_IMAGE), pin(TELEGRAF_IMAGE)]);
    // every digest in the file belongs to a match: no pin is left for a human to remember
    expect((text.match(/@sha256:[0-9a-f]{64}/g) ?? []).length).toBe(found.length);
  });

  test("a bumped pin is still found (the pattern is not tied to today's values)", () => {
    const bumped = `export const X =\n  "influxdb:2.10.0@sha256:${"a".repeat(64)}";\nconst Y = "grafana/grafana:13.1.0-security-01@sha256:${"b".repeat(64)}";`;
    const found = [...bumped.matchAll(new RegExp(managers[0].matchStrings[0], "g"))].map((m) => m.groups?.currentValue);
    expect(found).toEqual(["2.10.0", "13.1.0-security-01"]);
  });
});

describe("the simulator's base image, for Renovate's dockerfile manager", () => {
  const dockerfile = readFileSync(join(ROOT, "simulator", "Dockerfile"), "utf8");

  test("one ARG default holds the whole pinned reference, name:tag@digest", () => {
    const args = [...dockerfile.matchAll(/^ARG NODE_IMAGE=(\S+)$/gm)].map((m) => m[1]);
    expect(args).toHaveLength(1);
    expect(pin(args[0])).toMatchObject({ depName: "node", currentValue: expect.stringMatching(/^\d+-bookworm-slim$/) });
  });

  test("every FROM uses it, so updating the ARG line updates every stage", () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(new Set(froms)).toEqual(new Set(["${NODE_IMAGE}"]));
  });

  test("the dockerfile manager is enabled and its default file pattern covers simulator/Dockerfile", () => {
    expect(config.enabledManagers).toEqual(expect.arrayContaining(["dockerfile", "npm"]));
    expect(files).toContain("simulator/Dockerfile");
  });
});

describe("package rules", () => {
  const rules: any[] = config.packageRules;

  test("every file a rule names is tracked, and each names a package.json with a lockfile beside it", () => {
    const named = rules.flatMap((r) => r.matchFileNames ?? []);
    expect(named.length).toBeGreaterThan(0);
    for (const file of named) {
      expect(files).toContain(file);
      expect(files).toContain(file.replace(/package\.json$/, "package-lock.json"));
    }
  });

  test("npm groups are one pull request per package (program, simulator), each with its own name", () => {
    const groups = rules.filter((r) => r.groupName);
    expect(groups.map((r) => [r.groupName, r.matchFileNames])).toEqual([
      ["program dependencies (non-major)", ["package.json"]],
      ["simulator dependencies (non-major)", ["simulator/package.json"]],
    ]);
    // images are never grouped: each image update is its own pull request
    expect(groups.some((r) => (r.matchDatasources ?? []).includes("docker"))).toBe(false);
  });

  test("InfluxDB stays on 2.x; the rule's pattern accepts 2.x tags and refuses 3.x and latest", () => {
    const rule = rules.find((r) => (r.matchPackageNames ?? []).includes("influxdb"));
    const allowed = pattern(rule.allowedVersions);
    expect(["2.9.1", "2.10.0"].map((v) => allowed.test(v))).toEqual([true, true]);
    expect(["3.0.0", "3-core", "latest"].map((v) => allowed.test(v))).toEqual([false, false, false]);
  });

  test("Mosquitto stays on 2.0 and Telegraf on 1.37 (the tested lines); each pattern accepts patches and refuses the next line", () => {
    const allowedFor = (name: string) => pattern(rules.find((r) => (r.matchPackageNames ?? []).includes(name)).allowedVersions);
    const mosquitto = allowedFor("eclipse-mosquitto");
    expect(["2.0.22", "2.0.23"].map((v) => mosquitto.test(v))).toEqual([true, true]);
    expect(["2.1.0", "2", "latest"].map((v) => mosquitto.test(v))).toEqual([false, false, false]);
    const telegraf = allowedFor("telegraf");
    expect(["1.37.3", "1.37.10"].map((v) => telegraf.test(v))).toEqual([true, true]);
    expect(["1.38.0", "1.3.7", "latest"].map((v) => telegraf.test(v))).toEqual([false, false, false]);
  });

  test("images stay pinned by digest, and transitive npm dependencies are refreshed by lockfile maintenance", () => {
    expect(rules.find((r) => (r.matchDatasources ?? []).includes("docker") && r.pinDigests === true)).toBeDefined();
    expect(config.lockFileMaintenance.enabled).toBe(true);
  });
});
