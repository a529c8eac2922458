// One test file's InfluxDB: the dev stack as the program declares it, the real server started from
// that declaration, its first setup (with the project's init script), and the two consumers' token
// files read where each consumer reads its own (the simulator's INFLUX_TOKEN_FILE, Grafana's
// datasource `$__file{…}`), through that consumer's mounts of the token volumes.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { createTestCa, type TestCa } from "../../../simulator/test/support/pki";
import { DATASOURCE_UID } from "../../../components/grafana-provisioning";
import { declared, type Declared } from "./program";
import { firstSetup, type Setup } from "./first-setup";
import { startInfluxd, type Server } from "./influxd";

export interface GrafanaDatasource {
  uid: string;
  organization: string;
  defaultBucket: string;
  /** the container path of the token file, from secureJsonData.token: $__file{…} */
  tokenFile: string;
  isDefault: boolean;
  jsonData: Record<string, any>;
}

export interface Stack {
  decl: Declared;
  ca: TestCa;
  server: Server;
  setup: Setup;
  /** the simulator's and Grafana's container filesystems (path mappings) */
  simulatorPath: (p: string) => string;
  grafanaPath: (p: string) => string;
  datasource: GrafanaDatasource;
  /** the simulator's write token, read from its INFLUX_TOKEN_FILE */
  simulatorToken(): string;
  /** Grafana's read token, read from the file its datasource names */
  grafanaToken(): string;
  stop(): Promise<void>;
}

/** The provisioned InfluxDB datasource: GF_PATHS_PROVISIONING/datasources/*.yaml, the entry with the program's uid. */
export function provisionedDatasource(decl: Declared): GrafanaDatasource {
  const provisioning = decl.grafana.env.GF_PATHS_PROVISIONING ?? "/etc/grafana/provisioning";
  for (const [path, content] of decl.filesOf(decl.grafana)) {
    if (!path.startsWith(`${provisioning}/datasources/`) || !/\.ya?ml$/.test(path)) continue;
    for (const ds of parse(content)?.datasources ?? []) {
      if (ds.uid !== DATASOURCE_UID) continue;
      const file = /^\$__file\{(.+)\}$/.exec(ds.secureJsonData?.token ?? "")?.[1];
      if (!file) throw new Error(`datasource ${ds.uid}: the token is not read from a file ($__file{…})`);
      return { uid: ds.uid, organization: ds.jsonData?.organization, defaultBucket: ds.jsonData?.defaultBucket, tokenFile: file, isDefault: ds.isDefault === true, jsonData: ds.jsonData ?? {} };
    }
  }
  throw new Error(`no provisioned datasource with uid ${DATASOURCE_UID} under ${provisioning}/datasources`);
}

export async function startStack(decl?: Declared): Promise<Stack> {
  decl ??= await declared("dev");
  const ca = await createTestCa("influxdb tier test CA");
  const server = await startInfluxd(decl, ca);
  let setup: Setup;
  try {
    setup = await firstSetup(server, decl);
  } catch (error) {
    const tail = server.logTail();
    await server.stop();
    throw new Error(`${(error as Error).message}\n--- influxd log (last lines) ---\n${tail}`);
  }
  const simulatorPath = server.containerOf(decl.simulator, "simulator");
  const grafanaPath = server.containerOf(decl.grafana, "grafana");
  const datasource = provisionedDatasource(decl);
  const read = (file: string) => {
    const token = readFileSync(file, "utf8").trim();
    server.addSecret(token);
    return token;
  };
  return {
    decl,
    ca,
    server,
    setup,
    simulatorPath,
    grafanaPath,
    datasource,
    simulatorToken: () => read(simulatorPath(decl.simulator.env.INFLUX_TOKEN_FILE)),
    grafanaToken: () => read(grafanaPath(datasource.tokenFile)),
    stop: () => server.stop(),
  };
}

/**
 * A test whose failure message ends with the tail of influxd's log (secrets masked), so that a
 * failure against the real server shows what the server said.
 */
export function serverTest(name: string, stack: () => Stack | undefined, fn: () => Promise<void>, timeoutMs = 60_000): void {
  test(
    name,
    async () => {
      try {
        await fn();
      } catch (error) {
        const s = stack();
        if (s && error instanceof Error) error.message = `${s.server.redact(error.message)}\n--- influxd log (last lines) ---\n${s.server.logTail()}`;
        throw error;
      }
    },
    timeoutMs,
  );
}
