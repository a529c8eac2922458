// The npm scripts that wrap the Pulumi CLI (up, down, verify, outputs) and the test-tier commands,
// run for real: the shell scripts with stand-in `pulumi`, `docker` and `node` commands on a
// controlled PATH, the tier commands through npm on a PATH without the tier's prerequisites.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/harness";

/** What the scripts need from the system; node is added unless a test leaves it out or fakes it. */
const TOOLS = ["bash", "dirname", "mkdir", "chmod", "head", "base64", "tr", "cat", "sort", "grep"];
const whereIs = (tool: string) => execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();

/**
 * A bin folder with the given real tools (symlinked) and stand-ins written as bash bodies; every
 * stand-in call is logged with the environment the scripts set up for Pulumi.
 */
function sandbox(fakes: { pulumi?: string; docker?: string; node?: string }, options: { withNode?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "up-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const tools = options.withNode === false ? TOOLS : [...TOOLS, "node"];
  // A stand-in is never written through a symlink to the real tool.
  for (const tool of tools.filter((t) => !(t in fakes))) symlinkSync(whereIs(tool), join(bin, tool));
  for (const [name, body] of Object.entries(fakes)) {
    if (body === undefined) continue;
    writeFileSync(
      join(bin, name),
      `#!/bin/bash\necho "${name} $* | backend=$PULUMI_BACKEND_URL docker_host=$DOCKER_HOST passphrase_file=$PULUMI_CONFIG_PASSPHRASE_FILE" >> "${dir}/calls"\n${body}\n`,
    );
    chmodSync(join(bin, name), 0o755);
  }
  return { dir, bin, calls: () => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8") : "") };
}

function run(script: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(join(ROOT, "scripts", script), args, { env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BACKEND = `file://${ROOT}/.pulumi-state`;

describe("npm run up", () => {
  test("nothing installed: one clear line per missing prerequisite, and no deployment", () => {
    const box = sandbox({}, { withNode: false });
    const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^error: the Pulumi CLI is not installed or not on PATH/),
      expect.stringMatching(/^error: no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE .*--generate-passphrase/),
      expect.stringMatching(/^error: the docker CLI is not installed or not on PATH/),
      "error: Node.js is not installed or not on PATH (this project needs Node.js 20 or newer; see .nvmrc)",
    ]);
  });

  test("Docker not answering is reported with the endpoint the provider uses: docker:host first", () => {
    const box = sandbox({ pulumi: 'case "$*" in "config get docker:host"*) echo ssh://admin@edge-01 ;; esac', docker: "exit 1" });
    const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test", DOCKER_HOST: "unix:///elsewhere.sock" });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      "error: the Docker engine at ssh://admin@edge-01 does not answer ('docker version' failed): start Docker or fix docker:host / DOCKER_HOST",
    );
    expect(box.calls()).toMatch(/^docker -H ssh:\/\/admin@edge-01 version --format \{\{\.Server\.APIVersion\}\}/m);
    expect(box.calls()).not.toMatch(/pulumi up/);
  });

  test("without docker:host, DOCKER_HOST, else the local socket; never the docker CLI's context", () => {
    const docker = "echo 1.41";
    const withEnv = sandbox({ pulumi: "true", docker });
    run("up.sh", [], { PATH: withEnv.bin, HOME: withEnv.dir, PULUMI_CONFIG_PASSPHRASE: "test", DOCKER_HOST: "tcp://127.0.0.1:2376" });
    expect(withEnv.calls()).toMatch(/^docker -H tcp:\/\/127\.0\.0\.1:2376 version/m);
    const plain = sandbox({ pulumi: "true", docker });
    run("up.sh", [], { PATH: plain.bin, HOME: plain.dir, PULUMI_CONFIG_PASSPHRASE: "test", DOCKER_CONTEXT: "some-remote" });
    expect(plain.calls()).toMatch(/^docker -H unix:\/\/\/var\/run\/docker\.sock version/m);
  });

  test.each([
    ["1.40", false],
    ["1.41", true],
    ["1.45", true],
    ["2.0", true],
  ])("an engine speaking API %s is accepted: %s", (version, accepted) => {
    const box = sandbox({ pulumi: "true", docker: `echo ${version}` });
    const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    if (accepted) {
      expect(result.stderr).toBe("");
      expect(box.calls()).toMatch(/pulumi up/);
    } else {
      expect(result.stderr.trim()).toBe(
        `error: the Docker engine at unix:///var/run/docker.sock speaks API ${version}; this stack needs API 1.41 or newer (Docker Engine 20.10 or newer): upgrade Docker on that host`,
      );
      expect(box.calls()).not.toMatch(/pulumi up/);
    }
  });

  test("all there: the local backend, the stack created if missing, pulumi up with the policy pack, then where to find Grafana", () => {
    const box = sandbox({ pulumi: 'case "$*" in "stack output grafanaUrl"*) echo https://localhost:3000 ;; "stack output grafanaAdminUser"*) echo admin ;; esac', docker: "echo 1.41" });
    const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const calls = box.calls().split("\n").filter((l) => l.startsWith("pulumi stack select") || l.startsWith("pulumi up"));
    expect(calls).toEqual([
      `pulumi stack select --create dev --non-interactive | backend=${BACKEND} docker_host= passphrase_file=`,
      `pulumi up --yes --stack dev --non-interactive --policy-pack ${ROOT}/policy | backend=${BACKEND} docker_host= passphrase_file=`,
    ]);
    expect(result.stdout).toMatch(/Grafana: {2}https:\/\/localhost:3000 {3}\(user: admin\)/);
  });

  test("--refresh reads the deployed resources back first (pulumi up --refresh), so that one removed by hand is created again", () => {
    const box = sandbox({ pulumi: 'case "$*" in "stack output"*) echo value ;; esac', docker: "echo 1.41" });
    const result = run("up.sh", ["--refresh"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(result.status).toBe(0);
    expect(box.calls().split("\n").filter((l) => l.startsWith("pulumi up"))).toEqual([
      `pulumi up --yes --stack dev --non-interactive --policy-pack ${ROOT}/policy --refresh | backend=${BACKEND} docker_host= passphrase_file=`,
    ]);
  });

  test("the closing lines give npm run outputs commands, and they work from the user's own shell (no backend or passphrase exported)", () => {
    const fakes = { pulumi: 'case "$*" in "stack output caCertificatePem"*) printf -- "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n" ;; "stack output"*) echo value ;; esac', docker: "echo 1.41" };
    const box = sandbox(fakes);
    const config = join(box.dir, "config");
    const up = run("up.sh", ["--stack", "prod", "--generate-passphrase"], { PATH: box.bin, HOME: box.dir, XDG_CONFIG_HOME: config });
    expect(up.status).toBe(0);
    const printed = [...up.stdout.matchAll(/^\w+: +npm run (?:-s )?outputs -- (.*?)(?: > (\S+))?(?: {3}\(.*\))?$/gm)].map((m) => ({ args: m[1].split(" "), redirect: m[2] }));
    expect(printed.map((p) => p.args)).toEqual([
      ["--stack", "prod", "--show-secrets", "grafanaAdminPassword"],
      ["--stack", "prod", "caCertificatePem"],
      ["--stack", "prod"],
    ]);
    expect(up.stdout).not.toMatch(/pulumi stack output/);
    // the user's shell: nothing the up script exported, only HOME and the config folder
    const shell = sandbox(fakes, { withNode: false });
    for (const { args } of printed) {
      const r = run("outputs.sh", args, { PATH: shell.bin, HOME: box.dir, XDG_CONFIG_HOME: config });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
    expect(shell.calls().trim().split("\n")).toEqual(
      ["grafanaAdminPassword --stack prod --show-secrets", "caCertificatePem --stack prod", "--stack prod"].map(
        (a) => `pulumi stack output ${a} | backend=${BACKEND} docker_host= passphrase_file=${join(config, "secure-iot", "passphrase-prod")}`,
      ),
    );
    // only the value on stdout, so the redirect writes a clean PEM file
    const ca = run("outputs.sh", printed[1].args, { PATH: shell.bin, HOME: box.dir, XDG_CONFIG_HOME: config });
    expect(ca.stdout).toBe("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    expect(printed[1].redirect).toBe("iot-ca.pem");
  });

  test("when creating the stack adds an encryptionsalt to the tracked stack file, up says what it is, once", () => {
    const stack = `salt${process.pid}`;
    const stackFile = join(ROOT, `Pulumi.${stack}.yaml`);
    writeFileSync(stackFile, "config: {}\n");
    // a stand-in pulumi that does what `stack select --create` does with the passphrase provider
    const box = sandbox({ pulumi: `case "$*" in "stack select --create"*) grep -q encryptionsalt "${stackFile}" 2>/dev/null || echo "encryptionsalt: v1:abc" >> "${stackFile}" ;; esac`, docker: "echo 1.41" });
    try {
      const first = run("up.sh", ["--stack", stack], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`note: Pulumi added 'encryptionsalt:' to Pulumi\\.${stack}\\.yaml\\. It is not a secret, but it only works with this stack's passphrase`));
      const second = run("up.sh", ["--stack", stack], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
      expect(second.stdout).not.toMatch(/encryptionsalt/);
    } finally {
      rmSync(stackFile, { force: true });
    }
  });

  test("--generate-passphrase creates a private passphrase file outside the project and uses it", () => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41" });
    const config = join(box.dir, "config");
    const result = run("up.sh", ["--stack", "prod", "--generate-passphrase"], { PATH: box.bin, HOME: box.dir, XDG_CONFIG_HOME: config });
    expect(result.status).toBe(0);
    const file = join(config, "secure-iot", "passphrase-prod");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toMatch(/^[A-Za-z0-9+/]{40,}$/);
    expect(result.stdout).toContain(`generated a passphrase for stack prod in ${file} (mode 0600)`);
    expect(box.calls()).toMatch(/pulumi up --yes --stack prod/);
    // the next run finds it without the flag
    const again = run("up.sh", ["--stack", "prod"], { PATH: box.bin, HOME: box.dir, XDG_CONFIG_HOME: config });
    expect(again.status).toBe(0);
  });

  test.each([["v18.19.1"], ["v19.9.0"]])("Node.js %s on PATH: one line, and no deployment", (version) => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41", node: `echo ${version}` });
    const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`error: Node.js ${version} is too old: this project needs Node.js 20 or newer (.nvmrc; with nvm: nvm install && nvm use)\n`);
    expect(box.calls()).not.toMatch(/pulumi (stack select|up)/);
  });

  test("Node.js 20 and newer are accepted", () => {
    for (const version of ["v20.0.0", "v24.18.1"]) {
      const box = sandbox({ pulumi: "true", docker: "echo 1.41", node: `echo ${version}` });
      expect(run("up.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" }).stderr).toBe("");
    }
  });

  test(".nvmrc names the Node.js major version both package.json files require", () => {
    const nvmrc = readFileSync(join(ROOT, ".nvmrc"), "utf8").trim();
    expect(nvmrc).toBe("20");
    for (const pkg of ["package.json", "simulator/package.json"]) {
      expect(JSON.parse(readFileSync(join(ROOT, pkg), "utf8")).engines.node).toBe(`>=${nvmrc}`);
    }
  });

  test("npm refuses to install either package on an older Node.js (engine-strict in each package's .npmrc)", () => {
    // npm ci --prefix simulator (the root postinstall) reads simulator/.npmrc, not the root's.
    // Seen with Node.js 18.20.8: npm ci stops with EBADENGINE "Required: {"node":">=20"}".
    for (const dir of [".", "simulator"]) {
      const lines = readFileSync(join(ROOT, dir, ".npmrc"), "utf8").split("\n").map((l) => l.trim());
      expect(lines).toContain("engine-strict=true");
    }
  });
});

describe("npm run down", () => {
  test("down destroys the selected stack after the same checks", () => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41" });
    const result = run("down.sh", ["--stack", "dev"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(result.status).toBe(0);
    expect(box.calls()).toMatch(/^pulumi destroy --yes --stack dev --non-interactive/m);
  });

  test("without a passphrase, it asks for the one the stack was deployed with (generating a new one could not decrypt it)", () => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41" });
    const result = run("down.sh", [], { PATH: box.bin, HOME: box.dir });
    expect(result.stderr).toBe(
      `error: no secrets passphrase for stack dev: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) with the one it was deployed with (${box.dir}/.config/secure-iot/passphrase-dev does not exist)\n`,
    );
    expect(box.calls()).not.toMatch(/destroy/);
  });
});

describe("npm run outputs", () => {
  test("needs only the Pulumi CLI and the passphrase: no Docker, no Node.js; secrets stay [secret] unless asked for", () => {
    const box = sandbox({ pulumi: 'echo "grafanaAdminPassword  [secret]"' }, { withNode: false });
    const plain = run("outputs.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(plain).toEqual({ status: 0, stdout: "grafanaAdminPassword  [secret]\n", stderr: "" });
    run("outputs.sh", ["--show-secrets", "--stack", "prod"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(box.calls().trim().split("\n")).toEqual([
      `pulumi stack output --stack dev | backend=${BACKEND} docker_host= passphrase_file=`,
      `pulumi stack output --stack prod --show-secrets | backend=${BACKEND} docker_host= passphrase_file=`,
    ]);
  });

  test("an explicit PULUMI_BACKEND_URL wins, as in npm run up", () => {
    const box = sandbox({ pulumi: "true" });
    const state = join(box.dir, "state");
    run("outputs.sh", [], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test", PULUMI_BACKEND_URL: `file://${state}` });
    expect(box.calls()).toMatch(new RegExp(`^pulumi stack output --stack dev \\| backend=file://${state} `, "m"));
  });

  test("Pulumi's failure (no such output, stack not deployed) is its exit status", () => {
    const box = sandbox({ pulumi: "echo \"error: current stack does not have output property 'nope'\" >&2; exit 255" });
    const r = run("outputs.sh", ["nope"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(r).toEqual({ status: 255, stdout: "", stderr: "error: current stack does not have output property 'nope'\n" });
  });

  test("missing Pulumi CLI and passphrase: one line each, exit 1", () => {
    const box = sandbox({}, { withNode: false });
    const r = run("outputs.sh", [], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^error: the Pulumi CLI is not installed or not on PATH/),
      expect.stringMatching(/^error: no secrets passphrase for stack dev: export PULUMI_CONFIG_PASSPHRASE .* with the one it was deployed with/),
    ]);
  });

  test.each([[["a", "b"]], [["--json"]]])("arguments %j: usage, exit 2", (args) => {
    const box = sandbox({ pulumi: "true" });
    const r = run("outputs.sh", args, { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\nusage: npm run outputs \[-- --stack NAME\] \[--show-secrets\] \[OUTPUT_NAME\]\n$/);
    expect(box.calls()).toBe("");
  });
});

describe("the stack argument, the same in every command", () => {
  const SCRIPTS = ["up.sh", "down.sh", "verify.sh", "outputs.sh"];

  test.each(SCRIPTS)("%s: a stack without a Pulumi.<stack>.yaml is refused before anything else is checked, naming the stacks there are", (script) => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41" }, { withNode: false });
    const r = run(script, ["--stack", "prd"], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(2);
    const match = /^error: unknown stack 'prd': there is no Pulumi\.prd\.yaml \(stacks here: (.*)\); to make a new stack, copy one first: cp Pulumi\.dev\.yaml Pulumi\.prd\.yaml\n$/.exec(r.stderr);
    expect(match).not.toBeNull();
    expect(match![1].split(", ")).toEqual(expect.arrayContaining(["dev", "prod"]));
    expect(r.stdout).toBe("");
    expect(box.calls()).toBe("");
  });

  test.each(SCRIPTS)("%s: --stack without a value: a usage line, exit 2", (script) => {
    const box = sandbox({});
    for (const args of [["--stack"], ["--stack", ""], ["--stack", "--json"]]) {
      const r = run(script, args, { PATH: box.bin, HOME: box.dir });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^error: --stack needs a stack name\nusage: npm run \w+ \[-- --stack NAME\].*\n$/);
    }
  });

  test.each([["Prod"], ["../dev"], ["-x"], ["a".repeat(41)]])("a stack name outside the rule settings.ts applies (%s) is refused", (name) => {
    const box = sandbox({ pulumi: "true", docker: "echo 1.41" });
    const r = run("up.sh", [`--stack`, name], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(name === "-x" ? /^error: --stack needs a stack name/ : /^error: the stack name ".*" must be 1-40 characters a-z 0-9 _ \. - \(it prefixes Docker object names\)\n$/);
    expect(box.calls()).toBe("");
  });

  test("an unknown argument is refused with usage", () => {
    const box = sandbox({});
    const r = run("up.sh", ["--force"], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("error: unknown argument '--force'\nusage: npm run up [-- --stack NAME] [--generate-passphrase] [--refresh]\n");
  });
});

describe("npm run verify -- --json: JSON out even when it cannot start", () => {
  test("missing prerequisites: one JSON document on stdout, in the report's shape, exit 1", () => {
    const box = sandbox({ node: "echo v18.20.0" });
    const r = run("verify.sh", ["--json"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE_FILE: `${box.dir}/no "such" file` });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      stack: "dev",
      grafanaUrl: null,
      ok: false,
      counts: { pass: 0, fail: 4, skip: 0 },
      checks: [
        { name: "prerequisites", status: "fail", summary: expect.stringMatching(/^the Pulumi CLI is not installed or not on PATH/) },
        { name: "prerequisites", status: "fail", summary: `PULUMI_CONFIG_PASSPHRASE_FILE=${box.dir}/no "such" file is not a readable file` },
        { name: "prerequisites", status: "fail", summary: expect.stringMatching(/^the docker CLI is not installed/) },
        { name: "prerequisites", status: "fail", summary: expect.stringMatching(/^Node\.js v18\.20\.0 is too old/) },
      ],
    });
  });

  test("an unknown stack: JSON too, exit 2", () => {
    const box = sandbox({});
    const r = run("verify.sh", ["--json", "--stack", "prd"], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ stack: "prd", ok: false, counts: { fail: 1 }, checks: [{ name: "stack", status: "fail", summary: expect.stringMatching(/^unknown stack 'prd'/) }] });
  });

  test("without --json, the same failures stay lines on stderr", () => {
    const box = sandbox({});
    const r = run("verify.sh", [], { PATH: box.bin, HOME: box.dir });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: the Pulumi CLI is not installed/);
  });
});

describe("the test commands", () => {
  /** A PATH with what npm and the tier runners use, and neither Go, nor the Pulumi CLI, nor a Docker CLI. */
  function bareTools(): string {
    const bin = join(mkdtempSync(join(tmpdir(), "tiers-")), "bin");
    mkdirSync(bin);
    const tools = ["sh", "bash", "node", "npm", "env", "dirname", "mkdir", "mktemp", "rm", "cat", "tee", "sed", "tail", "awk", "grep", "head", "find", "id", "timeout", "cut", "tr", "sort", "sha256sum", "date"];
    for (const tool of tools) symlinkSync(whereIs(tool), join(bin, tool));
    return bin;
  }

  /** This process's environment without IOT_REQUIRE_TIERS: the commands must set it themselves. */
  const inherited = { ...process.env };
  delete inherited.IOT_REQUIRE_TIERS;

  function npmRun(script: string, env: Record<string, string>) {
    const r = spawnSync("npm", ["run", "--silent", script], { cwd: ROOT, env: { ...inherited, ...env }, encoding: "utf8", timeout: 170_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  test("npm run test:engine without an engine: fails at once with the reason (it was asked for by name)", () => {
    const state = mkdtempSync(join(tmpdir(), "engine-state-"));
    const r = npmRun("test:engine", { ENGINE_PROVISION: "0", ENGINE_STATE_DIR: state, DOCKER_HOST: `unix://${state}/none.sock` });
    expect(r.status).toBe(1);
    expect(r.output).toContain(`engine tier FAILED: it cannot run here: no Docker engine answers at unix://${state}/none.sock`);
    expect(r.output).not.toMatch(/Test Suites:/);
  }, 180_000);

  test("npm run test:influxdb without Go to build the binaries: fails at once with the reason", () => {
    // A CLI version no cache holds, so the build is needed whatever .cache/upstream contains.
    const r = npmRun("test:influxdb", { PATH: bareTools(), INFLUX_CLI_VERSION: "v0.0.0-not-built" });
    expect(r.status).toBe(1);
    expect(r.output).toContain("influxdb tier FAILED: it cannot run here: prerequisite missing: 'go' not found on PATH");
    expect(r.output).not.toMatch(/Test Suites:/);
  }, 180_000);

  test("npm run test:e2e without the Pulumi CLI: exit 1, with the reason", () => {
    const r = npmRun("test:e2e", { PATH: bareTools() });
    expect(r.status).toBe(1);
    expect(r.output).toContain("e2e tier cannot run here: the Pulumi CLI is not installed");
  }, 180_000);

  test("a tier run by npm test is still skipped, not failed, where it cannot run: run.sh goes on to jest", () => {
    const state = mkdtempSync(join(tmpdir(), "engine-state-"));
    const r = spawnSync("bash", ["test/engine/run.sh", "--listTests"], {
      cwd: ROOT,
      env: { ...inherited, ENGINE_PROVISION: "0", ENGINE_STATE_DIR: state, DOCKER_HOST: `unix://${state}/none.sock` },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\.engine\.test\.ts$/m);
  }, 120_000);

  test("npm run test:unit runs tiers 1 and 2 only: no engine, InfluxDB, MQTT or e2e test file", () => {
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts["test:unit"]).toBe("npm run build:simulator && jest --config jest.unit.config.js");
    const listed = execFileSync(join(ROOT, "node_modules", ".bin", "jest"), ["--config", "jest.unit.config.js", "--listTests"], { cwd: ROOT, encoding: "utf8" })
      .trim()
      .split("\n")
      .map((f) => f.slice(ROOT.length + 1));
    expect(listed.filter((f) => /^test\/(engine|influxdb|mqtt|e2e)\//.test(f))).toEqual([]);
    // nor a tier file kept elsewhere: none of them declares its suites through the tier's helpers
    const tierHelpers = /from "[^"]*\b(?:influxdb\/support\/tier|mqtt\/support\/tier|engine\/support\/engine)"/;
    expect(listed.filter((f) => tierHelpers.test(readFileSync(join(ROOT, f), "utf8")))).toEqual([]);
    expect(listed).toEqual(expect.arrayContaining(["test/program.test.ts", "test/scripts.test.ts", "simulator/test/write-path.test.ts", "policy/pack.test.ts", "dashboards/dashboards.test.ts"]));
    // everything else the root config runs is there
    const all = execFileSync(join(ROOT, "node_modules", ".bin", "jest"), ["--listTests"], { cwd: ROOT, encoding: "utf8" })
      .trim()
      .split("\n")
      .map((f) => f.slice(ROOT.length + 1));
    expect(all.filter((f) => !f.startsWith("test/influxdb/") && !f.startsWith("test/mqtt/")).sort()).toEqual([...listed].sort());
  });
});
