/**
 * npm run bench:mqtt: the MQTT path benchmark against the real broker, Telegraf and influxd
 * (bench/mqtt/path.bench.ts). A jest run, like the other benches, because it reuses the MQTT tier's
 * TypeScript support (test/mqtt/support) through ts-jest; not a test, so not under any test config's
 * roots (the MQTT tier runs a smoke run of it: test/mqtt/mqtt-bench.test.ts).
 */
module.exports = {
  rootDir: "../..",
  testEnvironment: "node",
  roots: ["<rootDir>/bench/mqtt"],
  testMatch: ["**/*.bench.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 40 * 60 * 1000,
};
