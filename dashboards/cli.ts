// npm run dashboards -- --out DIR [--stack NAME]   writes the provisioned files of a stack
// npm run dashboards -- --readme [--stack NAME]    prints the generated tables of docs/DASHBOARDS.md
//
// The files are made by the function the program uses (provisionedFiles), from the same validated
// settings (Pulumi.yaml's defaults, then Pulumi.<stack>.yaml), so they are what `pulumi up`
// provisions, byte for byte, at the same paths as inside Grafana's files volume.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError, loadSettings, type Settings } from "../settings";
import { StackConfigError, readStackConfig } from "../stack-config";
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
  return readStackConfig(root, stack, { secretPlaceholder: SECRET_PLACEHOLDER });
}

/** The stack's validated settings, as the program would have them. */
export function stackSettings(root: string, stack: string): Settings {
  return loadSettings(stackConfig(root, stack), stack, (path) => readFileSync(resolve(root, path), "utf8"));
}

export function stackFiles(root: string, stack: string): Record<string, string> {
  return filesOf(stackSettings(root, stack));
}

export function stackReadme(root: string, stack: string): string {
  return readmeOf(stackSettings(root, stack));
}

function filesOf(settings: Settings): Record<string, string> {
  return provisionedFiles({ dashboards: dashboardOptions(settings), contactPoint: settings.alerts.webhookUrl !== undefined });
}

function readmeOf(settings: Settings): string {
  const o = dashboardOptions(settings);
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

const USAGE = "usage: npm run dashboards -- (--out DIR | --readme) [--stack NAME]   (stack: dev unless given; --readme prints the generated tables of docs/DASHBOARDS.md)";

export function main(argv: string[], root: string): number {
  let out: string | undefined;
  let readme = false;
  let stack = "dev";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--out" && argv[i + 1]) out = argv[++i];
    else if (arg === "--stack" && argv[i + 1]) stack = argv[++i];
    else if (arg === "--readme") readme = true;
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
  }
  if ((out === undefined) === !readme) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    const settings = stackSettings(root, stack);
    // the program prints these with pulumi.log.warn; here they go to stderr, apart from the output
    for (const warning of settings.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (readme) process.stdout.write(`${readmeOf(settings)}\n`);
    else for (const path of writeFiles(resolve(out as string), filesOf(settings))) process.stdout.write(`${path}\n`);
  } catch (error) {
    // a file's or a setting's problem: the message says what to do, a stack trace would only hide it
    if (error instanceof StackConfigError || error instanceof ConfigError) {
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
