// The MQTT tier tests the Telegraf that the bridge's image runs: the version test/mqtt builds from
// its Go module is the image tag pinned in components/images.ts. A tier 1 test, so that bumping
// one without the other fails on every machine, not only where the tier's binaries are built.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TELEGRAF_IMAGE } from "../components/images";

test("test/mqtt/build-upstream.sh builds the Telegraf version that components/images.ts pins", () => {
  const script = readFileSync(join(__dirname, "mqtt", "build-upstream.sh"), "utf8");
  const built = /^readonly TELEGRAF_VERSION=v(\S+)$/m.exec(script)?.[1];
  const pinned = /^telegraf:([^@]+)@sha256:[0-9a-f]{64}$/.exec(TELEGRAF_IMAGE)?.[1];
  expect(built).toBeDefined();
  expect(pinned).toBeDefined();
  expect(built).toBe(pinned);
});
