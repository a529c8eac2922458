/**
 * The engine tier: the program's images and containers on a real Docker engine. Run it with
 * `npm run test:engine` (test/engine/run.sh finds or starts the engine and builds the local base
 * image first); without an engine every suite is skipped with the reason printed.
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/engine"],
  testMatch: ["**/*.engine.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Read by test/engine/support/engine.ts: the suites run only under this config.
  globals: { ENGINE_TIER: true },
  globalSetup: "<rootDir>/test/engine/support/global-setup.ts",
  // One engine, one test file at a time: the files share the engine's CPU and build cache.
  maxWorkers: 1,
  // Every wait inside the tests has its own, shorter deadline; this is the backstop.
  testTimeout: 6 * 60 * 1000,
};
