/**
 * npm run bench:dashboards: the dashboard and alert query benchmark (bench/dashboards/run.bench.ts).
 * Run by jest only because the program is read under Pulumi mocks (test/support/harness.ts needs
 * jest.isolateModules); it measures and reports, it asserts no time. Settings are environment
 * variables, listed in run.bench.ts.
 */
module.exports = {
  testEnvironment: "node",
  rootDir: "../..",
  roots: ["<rootDir>/bench/dashboards"],
  testMatch: ["**/*.bench.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // a 24 h backfill of 1,000 devices and the slow queries before the fix take many minutes
  testTimeout: 3 * 60 * 60 * 1000,
};
