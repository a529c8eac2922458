/**
 * The InfluxDB tier alone: the real influxd and influx CLI built from source
 * (test/influxdb/build-upstream.sh). Run it with `npm run test:influxdb` (test/influxdb/run.sh builds
 * the binaries first, a no-op when cached). The same test files also run under the root `npm test`
 * when the binaries are there; without them every suite is skipped with the reason printed.
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/influxdb"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Every wait inside the tests has its own, shorter deadline; this is the backstop.
  testTimeout: 2 * 60 * 1000,
};
