/**
 * npm run bench:faults: the fault scenarios of the data path against the real influxd and simulator,
 * run longer than the InfluxDB tier runs them (bench/faults/faults.bench.ts). A jest run because the
 * scenarios read the program under Pulumi mocks, which need jest's module registry; not a test, so
 * not under any test config's roots (the InfluxDB tier runs them short: test/influxdb/faults.test.ts).
 */
module.exports = {
  rootDir: "../..",
  testEnvironment: "node",
  roots: ["<rootDir>/bench/faults"],
  testMatch: ["**/*.bench.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 20 * 60 * 1000,
  // the Pulumi runtime under mocks leaves handles open; the run is over when the bench file is
  forceExit: true,
};
