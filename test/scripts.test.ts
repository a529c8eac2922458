// npm run up / down: prerequisite checks and the Pulumi calls, run for real with stand-in
// `pulumi` and `docker` commands on a controlled PATH.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/harness";

const TOOLS = ["bash", "dirname", "mkdir", "chmod", "head", "base64", "tr", "cat", "sort", "grep"];

function sandbox(fakes: { pulumi?: string; docker?: string }) {
  const dir = mkdtempSync(join(tmpdir(), "up-"));
  const bin = join(dir, "bin");
  execFileSync("mkdir", [bin]);
  for (const tool of TOOLS) {
    const path = execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(path, join(bin, tool));
  }
  for (const [name, body] of Object.entries(fakes)) {
    if (body === undefined) continue;
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $* | backend=$PULUMI_BACKEND_URL docker_host=$DOCKER_HOST" >> "${dir}/calls"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return { dir, bin, calls: () => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8") : "") };
}

function run(script: string, args: string[], env: Record<string, string>) {
  try {
    const stdout = execFileSync(join(ROOT, "scripts", script), args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { status: 0, stdout, stderr: "" };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

test("nothing installed: one clear line per missing prerequisite, and no deployment", () => {
  const box = sandbox({});
  const result = run("up.sh", [], { PATH: box.bin, HOME: box.dir });
  expect(result.status).toBe(1);
  const lines = result.stderr.trim().split("\n");
  expect(lines).toEqual([
    expect.stringMatching(/^error: the Pulumi CLI is not installed or not on PATH/),
    expect.stringMatching(/^error: no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE .*--generate-passphrase/),
    expect.stringMatching(/^error: the docker CLI is not installed or not on PATH/),
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
  const docker = 'echo 1.41';
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
    `pulumi stack select --create dev --non-interactive | backend=file://${ROOT}/.pulumi-state docker_host=`,
    `pulumi up --yes --stack dev --non-interactive --policy-pack ${ROOT}/policy | backend=file://${ROOT}/.pulumi-state docker_host=`,
  ]);
  expect(result.stdout).toMatch(/Grafana: {2}https:\/\/localhost:3000 {3}\(user: admin\)/);
  expect(result.stdout).toMatch(/pulumi stack output grafanaAdminPassword --show-secrets --stack dev/);
});

test("when creating the stack adds an encryptionsalt to the tracked stack file, up says what it is, once", () => {
  const stack = `salt${process.pid}`;
  const stackFile = join(ROOT, `Pulumi.${stack}.yaml`);
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

test("down destroys the selected stack after the same checks", () => {
  const box = sandbox({ pulumi: "true", docker: "echo 1.41" });
  const result = run("down.sh", ["--stack", "dev"], { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test" });
  expect(result.status).toBe(0);
  expect(box.calls()).toMatch(/^pulumi destroy --yes --stack dev --non-interactive/m);
});

test("an unknown argument is refused with usage", () => {
  const box = sandbox({});
  expect(run("up.sh", ["--force"], { PATH: box.bin, HOME: box.dir }).status).toBe(2);
});
