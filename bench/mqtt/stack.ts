// The MQTT tier's startStack (test/mqtt/support/stack.ts) with one more knob: the bridge's window
// (Telegraf's max_undelivered_messages and the broker's max_inflight_messages, which the stack keeps
// equal, index.ts BRIDGE_UNDELIVERED_MESSAGES). Only the bench's what-if run uses it, to tell
// whether that window bounds the path's rate; every other run uses the tier's startStack as it is.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceIdentity } from "../../components/broker-config";
import { startBroker } from "../../test/mqtt/support/broker";
import { prepareBridge } from "../../test/mqtt/support/bridge";
import { startInflux } from "../../test/mqtt/support/influxdb";
import { createCa, type Identity } from "../../test/mqtt/support/pki";
import type { Stack } from "../../test/mqtt/support/stack";

export async function startStackWithWindow(o: { devices: DeviceIdentity[]; maxQueuedMessages: number; window: number }): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-bench-"));
  const ca = await createCa("mqtt bench CA");
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  const identities = new Map<string, Identity>();
  for (const device of o.devices) identities.set(device.id, await ca.client(device.id));
  const stopped: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const stop of stopped.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const influx = await startInflux(join(dir, "influxdb"), ca, caFile);
    stopped.push(() => influx.stop());
    const broker = await startBroker(join(dir, "broker"), ca, { devices: o.devices, revoked: [] }, { maxQueuedMessages: o.maxQueuedMessages, maxInflightMessages: o.window });
    stopped.push(() => broker.stop());
    // the stack's metric buffer is 100 windows (index.ts)
    const bridge = await prepareBridge(join(dir, "bridge"), ca, caFile, broker.port, influx, { maxUndelivered: o.window, bufferLimit: 100 * o.window });
    stopped.push(() => bridge.stop());
    await bridge.start();
    const redact = (text: string) => text.split(influx.bridgeToken).join("<redacted>").split(influx.operatorToken).join("<redacted>");
    return {
      dir,
      ca,
      caFile,
      influx,
      broker,
      bridge,
      identities,
      stop: cleanup,
      logs: () => redact([`--- mosquitto ---\n${broker.process().tail(25)}`, `--- telegraf ---\n${bridge.process().tail(25)}`, `--- influxd ---\n${influx.logTail()}`].join("\n")),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
