// npm run restore [-- --stack S] --from DIR [--force]: a backup made by npm run backup restored
// into the stack's InfluxDB with the real `influx restore --full` inside its container, after
// checking it (tools/influx-backup.ts restoreBackup, which says why a full restore and not a
// per-bucket one); the simulator, Grafana and the bridge are stopped meanwhile and started again,
// with new tokens when the stack was rebuilt. Started by scripts/restore.sh.
import { isAbsolute, resolve } from "node:path";
import { BackupError, restoreBackup } from "./influx-backup";
import { dockerConsumers, operatorToken, reportFailure, stackTarget } from "./influx-backup-stack";

export function parseRestoreArgs(argv: string[], cwd: string): { stack: string; from: string; force: boolean } {
  let stack = "dev";
  let from: string | undefined;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--stack" && argv[i + 1]) stack = argv[++i];
    else if (argv[i] === "--from" && argv[i + 1]) from = argv[++i];
    else if (argv[i] === "--force") force = true;
    else throw new BackupError(`unknown argument '${argv[i]}' (npm run restore [-- --stack NAME] --from DIR [--force])`);
  }
  if (!from) throw new BackupError("--from DIR is needed: the folder npm run backup wrote");
  return { stack, from: isAbsolute(from) ? from : resolve(cwd, from), force };
}

async function main(): Promise<void> {
  const { stack, from, force } = parseRestoreArgs(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd());
  const token = await operatorToken(stack);
  const target = await stackTarget(stack, token);
  const log = (line: string) => console.log(line);
  const result = await restoreBackup(target, from, { force, consumers: dockerConsumers(stack, process.env, log), log });
  console.log(`restored stack ${stack} from ${from}: ${result.data.total} points, the dashboards show them again`);
}

if (require.main === module) main().catch(reportFailure);
