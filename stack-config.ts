// Reads a stack's configuration from Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI
// does, for the tools that run without it (npm run dashboards, the tests' harness). The program
// itself never calls this: under `pulumi up` the engine hands it the merged config.
//
// Every problem with the files is one line (StackConfigError) naming the file, the line for YAML
// errors, and what to do, so a typo never shows up as an ENOENT or YAMLParseError stack trace.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, YAMLParseError } from "yaml";
import { PROJECT } from "./settings";

export class StackConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackConfigError";
  }
}

const STACK_FILE = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;

/** The stacks that have a file in `root`, sorted: what `--stack` may name. */
export function stackNames(root: string): string[] {
  return readdirSync(root)
    .map((file) => STACK_FILE.exec(file)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

export interface ReadOptions {
  /**
   * The string that stands for an encrypted (secure:) value, which only the Pulumi CLI can
   * decrypt; undefined refuses such values.
   */
  secretPlaceholder?: string;
}

/**
 * The stack's configuration as the engine would pass it to the program: Pulumi.yaml's defaults,
 * overlaid with Pulumi.<stack>.yaml, as "namespace:key" to string.
 * @throws StackConfigError (one line) when a file is missing, is not valid YAML, or has a key Pulumi refuses
 */
export function readStackConfig(root: string, stack: string, options: ReadOptions = {}): Record<string, string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    throw new StackConfigError(`"${stack}" is not a stack name (letters, digits, _ . - only); stacks in ${root}: ${listed(stackNames(root))}`);
  }
  const projectPath = join(root, "Pulumi.yaml");
  const project = readYaml(projectPath, () => `${projectPath} does not exist: run this from the project folder (the one with Pulumi.yaml)`);
  const stackPath = join(root, `Pulumi.${stack}.yaml`);
  const stackFile = readYaml(stackPath, () => {
    const names = stackNames(root);
    return `there is no stack "${stack}": ${stackPath} does not exist; stacks with a Pulumi.<stack>.yaml file: ${listed(names)}`;
  });

  const config: Record<string, string> = {};
  const projectConfig = mapping(projectPath, project, "config");
  for (const [rawKey, spec] of Object.entries(projectConfig)) {
    // Pulumi.yaml's `value` (namespaced keys) or `default` (the project's keys): mergeConfig in
    // pulumi/pulumi sdk/go/common/workspace/config.go (v3.248.0, lines 322-342).
    if (spec === null || typeof spec !== "object") continue;
    const value = "default" in spec ? spec.default : "value" in spec ? spec.value : undefined;
    if (value !== undefined) config[configKey(projectPath, rawKey)] = configString(projectPath, rawKey, value, options);
  }

  const setBy: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(mapping(stackPath, stackFile, "config"))) {
    const key = configKey(stackPath, rawKey);
    if (setBy[key] !== undefined) {
      // The CLI rewrites both into one key of a Go map, in map order: which one wins is random.
      throw new StackConfigError(`${stackPath} sets ${key} twice, as "${setBy[key]}" and as "${rawKey}": keep one`);
    }
    setBy[key] = rawKey;
    config[key] = configString(stackPath, rawKey, value, options);
  }
  return config;
}

/**
 * The key the Pulumi CLI makes of a config key written in Pulumi.yaml or a stack file.
 *
 * pulumi/pulumi v3.248.0 (the CLI of @pulumi/pulumi 3.248.0, the version this project pins):
 * - sdk/go/common/workspace/loaders.go, stackConfigNamespacedWithProject (lines 51-89), called by
 *   LoadProjectStackBytes (line 226) for every stack file: a key without ":" is rewritten to
 *   "<project name>:<key>"; so `simDevices: 5` in Pulumi.dev.yaml is secure-iot:simDevices, and the
 *   program receives it. Pulumi.yaml's keys get the same default (parseConfigKey, config.go 163-172).
 * - sdk/go/common/resource/config/key.go, ParseKey (lines 45-70): "<namespace>:<name>", or the old
 *   "<namespace>:config:<name>" (the same key); anything else with colons is refused.
 */
function configKey(file: string, rawKey: string): string {
  const parts = rawKey.split(":");
  if (parts.length === 1) return `${PROJECT}:${rawKey}`;
  if (parts.length === 2) return rawKey;
  if (parts.length === 3 && parts[1] === "config") return `${parts[0]}:${parts[2]}`;
  throw new StackConfigError(`${file}: "${rawKey}" is not a configuration key; Pulumi accepts <name> (this project's) or <namespace>:<name>, e.g. ${PROJECT}:simDevices`);
}

/** The string the engine passes for a YAML value: strings as written, other values as JSON. */
function configString(file: string, key: string, value: unknown, options: ReadOptions): string {
  // A key without a value: "currently treated as an empty string" (checkForEmptyConfig, loaders.go 411-442).
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object" && !Array.isArray(value) && "secure" in value) {
    if (options.secretPlaceholder !== undefined) return options.secretPlaceholder;
    throw new StackConfigError(`${file}: ${key} is encrypted (secure:), which only the Pulumi CLI can decrypt; give the test a plain value instead`);
  }
  return JSON.stringify(value);
}

function readYaml(path: string, whenMissing: () => string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new StackConfigError(whenMissing());
    throw new StackConfigError(`${path} cannot be read: ${code ?? String(error)}`);
  }
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof YAMLParseError)) throw error;
    // The library's message ends with " at line L, column C:" and a multi-line excerpt: keep the reason.
    const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    const where = error.linePos ? `:${error.linePos[0].line}:${error.linePos[0].col}` : "";
    throw new StackConfigError(`${path}${where}: ${reason}; fix the YAML there (keys under config: indented alike with spaces, no tabs, each key once)`);
  }
}

/** The mapping under `field` of a parsed file (empty when the file or the field is empty). */
function mapping(path: string, document: unknown, field: string): Record<string, unknown> {
  if (document === null || document === undefined) return {};
  if (typeof document !== "object" || Array.isArray(document)) throw new StackConfigError(`${path}: the file must be a YAML mapping with a ${field}: section`);
  const value = (document as Record<string, unknown>)[field];
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new StackConfigError(`${path}: ${field}: must be a mapping of key: value lines, e.g. "  ${PROJECT}:simDevices: 5"`);
  }
  return value as Record<string, unknown>;
}

function listed(names: string[]): string {
  return names.length > 0 ? names.join(", ") : "none";
}
