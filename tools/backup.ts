// npm run backup [-- --stack S] [--out DIR]: a backup of the stack's InfluxDB made by the real
// `influx backup` inside its container (tools/influx-backup.ts makeBackup), copied out into DIR, a
// new folder (0700) of files (0600) with manifest.json. Started by scripts/backup.sh, which has
// checked the arguments, the stack, the Pulumi CLI, the passphrase and the Docker engine.
import { isAbsolute, resolve } from "node:path";
import { BackupError, makeBackup, timestampName } from "./influx-backup";
import { operatorToken, reportFailure, stackTarget } from "./influx-backup-stack";

export function parseBackupArgs(argv: string[], now: Date, cwd: string): { stack: string; out: string } {
  let stack = "dev";
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--stack" && argv[i + 1]) stack = argv[++i];
    else if (argv[i] === "--out" && argv[i + 1]) out = argv[++i];
    else throw new BackupError(`unknown argument '${argv[i]}' (npm run backup [-- --stack NAME] [--out DIR])`);
  }
  const dir = out ?? `backup-${timestampName(stack, now)}`;
  return { stack, out: isAbsolute(dir) ? dir : resolve(cwd, dir) };
}

async function main(): Promise<void> {
  const now = new Date();
  const { stack, out } = parseBackupArgs(process.argv.slice(2), now, process.env.INIT_CWD ?? process.cwd());
  const token = await operatorToken(stack);
  const target = await stackTarget(stack, token);
  const { manifest } = await makeBackup(target, out, now);
  const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
  console.log(`backup of stack ${stack} (InfluxDB ${manifest.influxdb.version}, org ${manifest.org.name}, bucket ${manifest.bucket}) in ${out}`);
  console.log(`  ${manifest.files.length} files, ${bytes} bytes, SHA-256 in manifest.json`);
  console.log(`  ${manifest.data.total} points in ${manifest.data.bySeries.length} series (measurement, device, field), ${manifest.data.first ?? "-"} to ${manifest.data.last ?? "-"}`);
  console.log(`  it holds InfluxDB's users and tokens (hashed) and every point: keep it like a secret (see docs/OPERATIONS.md)`);
}

if (require.main === module) main().catch(reportFailure);
