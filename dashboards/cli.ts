// npm run dashboards -- --out DIR [--stack NAME]   writes the provisioned files of a stack
// npm run dashboards -- --readme [--stack NAME]    prints the README's generated section
//
// The files are made by the function the program uses (provisionedFiles), from the same validated
// settings (Pulumi.yaml's defaults, then Pulumi.<stack>.yaml), so they are what `pulumi up`
// provisions, byte for byte, at the same paths as inside Grafana's files volume.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { ConfigError, PROJECT, loadSettings } from "../settings";
import { buildAlertRules, dashboardObjects, dashboardOptions, provisionedFiles } from ".";
import { readmeSection } from "./readme";

/**
 * Stands for an encrypted (secure:) value: these files depend only on whether a secret is set,
 * never on its value (a webhook URL reaches Grafana as a separate file). It passes the
 * validation of every secret setting: 16 characters or more, and an https URL.
 */
const SECRET_PLACEHOLDER = "https://secret.invalid/placeholder";

/** The stack's configuration as the Pulumi engine would pass it: Pulumi.yaml's defaults, then the stack file. */
export function stackConfig(root: string, stack: string): Record<string, string> {
  const config: Record<string, string> = {};
  const asString = (value: unknown) => (value && typeof value === "object" && "secure" in value ? SECRET_PLACEHOLDER : typeof value === "string" ? value : JSON.stringify(value));
  const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8"));
  for (const [key, spec] of Object.entries<{ default?: unknown }>(project.config ?? {})) {
    if (spec && "default" in spec) config[`${PROJECT}:${key}`] = asString(spec.default);
  }
  const stackFile = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8"));
  for (const [key, value] of Object.entries(stackFile?.config ?? {})) config[key] = asString(value);
  return config;
}

export function stackFiles(root: string, stack: string): Record<string, string> {
  const settings = loadSettings(stackConfig(root, stack), stack, (path) => readFileSync(resolve(root, path), "utf8"));
  return provisionedFiles({ dashboards: dashboardOptions(settings), contactPoint: settings.alerts.webhookUrl !== undefined });
}

export function stackReadme(root: string, stack: string): string {
  const o = dashboardOptions(loadSettings(stackConfig(root, stack), stack, (path) => readFileSync(resolve(root, path), "utf8")));
  return readmeSection(Object.values(dashboardObjects(o)), buildAlertRules(o));
}

export function writeFiles(out: string, files: Record<string, string>): string[] {
  const written: string[] = [];
  for (const [path, content] of Object.entries(files)) {
    const target = join(out, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    written.push(target);
  }
  return written;
}

const USAGE = "usage: npm run dashboards -- (--out DIR | --readme) [--stack NAME]   (stack: dev unless given)";

export function main(argv: string[], root: string): number {
  let out: string | undefined;
  let readme = false;
  let stack = "dev";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--out" && argv[i + 1]) out = argv[++i];
    else if (arg === "--stack" && argv[i + 1]) stack = argv[++i];
    else if (arg === "--readme") readme = true;
    else {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
  }
  if ((out === undefined) === !readme) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    if (readme) process.stdout.write(`${stackReadme(root, stack)}\n`);
    else for (const path of writeFiles(resolve(out as string), stackFiles(root, stack))) process.stdout.write(`${path}\n`);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  return 0;
}

if (require.main === module) {
  // compiled to dashboards/dist/dashboards/cli.js: the project folder is three levels up
  process.exitCode = main(process.argv.slice(2), resolve(__dirname, "..", "..", ".."));
}
