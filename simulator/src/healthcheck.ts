// Entry point of the image's HEALTHCHECK: `node dist/healthcheck.js`.
// It reads only the two variables it needs, so a check never fails on the rest of the config.
import { judgeHealth } from "./health";

const intervalMs = Number(process.env.SIM_INTERVAL_MS ?? 5000);
const maxAgeMs = Number(process.env.SIM_HEALTH_MAX_AGE_MS ?? Math.max(3 * intervalMs, 30_000));
const path = process.env.SIM_HEALTH_FILE || "/tmp/simulator-health.json";

const verdict = judgeHealth(path, Number.isFinite(maxAgeMs) ? maxAgeMs : 30_000);
process.stdout.write(`${verdict.healthy ? "healthy" : "unhealthy"}: ${verdict.reason}\n`);
process.exit(verdict.healthy ? 0 : 1);
