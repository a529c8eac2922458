// MQTT tier: the broker's log reaches its output as it is written. A container's stdout and stderr
// are pipes, not terminals; C stdio holds a pipe's stdout in 4 KiB blocks, so a broker logging to
// stdout shows a refused certificate or a revoked device's disconnect only much later (or at exit).
// Here mosquitto runs with the rendered mosquitto.conf and its output on a file, exactly as
// rendered (no stdbuf), and must say it is running within seconds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBroker, type Broker } from "./support/broker";
import { createCa } from "./support/pki";
import { mqttTier } from "./support/tier";

mqttTier("MQTT tier: the broker's log, unbuffered", () => {
  let dir: string | undefined;
  let broker: Broker | undefined;

  afterAll(async () => {
    await broker?.stop();
    if (dir && process.env.MQTT_TIER_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the broker's startup lines are in its output while it runs, not only when it exits", async () => {
    dir = mkdtempSync(join(tmpdir(), "mqtt-tier-log-"));
    const ca = await createCa("mqtt tier log test CA");
    // startBroker waits (15 s) for "mosquitto version … running" in the output
    broker = await startBroker(join(dir, "broker"), ca, { devices: [], revoked: [] }, { lineBuffered: false });
    expect(broker.process().log()).toMatch(/mosquitto version 2\.0\.\d+ running/);
  }, 30_000);
});
