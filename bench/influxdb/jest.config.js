/**
 * npm run bench:ingest: the ingest benchmark against the real influxd (bench/influxdb/ingest.bench.ts).
 * A jest run because it reads the program under Pulumi mocks, which need jest's module registry;
 * not a test, so not under any test config's roots (the InfluxDB tier runs a smoke run of it:
 * test/influxdb/ingest-bench.test.ts).
 */
module.exports = {
  rootDir: "../..",
  testEnvironment: "node",
  roots: ["<rootDir>/bench/influxdb"],
  testMatch: ["**/*.bench.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 40 * 60 * 1000,
  // the Pulumi runtime under mocks leaves handles open; the run is over when the bench file is
  forceExit: true,
};
