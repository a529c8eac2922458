/**
 * The MQTT tier alone: Debian's mosquitto, Telegraf built from its Go module and the real influxd
 * (test/mqtt/build-upstream.sh, test/influxdb/build-upstream.sh). Run it with `npm run test:mqtt`
 * (test/mqtt/run.sh builds first, a no-op when cached). The same test files also run under the root
 * `npm test` when the parts are there; without them every suite is skipped with the reason printed.
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/mqtt"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Every wait inside the tests has its own, shorter deadline; this is the backstop.
  testTimeout: 2 * 60 * 1000,
};
