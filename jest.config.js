/** Unit, mock-based and process-level tests; `npm test` builds the simulator first. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test", "<rootDir>/simulator/test", "<rootDir>/dashboards", "<rootDir>/policy"],
  testMatch: ["**/*.test.ts"],
  // The engine tier has its own config and runner (npm run test:engine), which npm test calls after this.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/e2e/", "<rootDir>/test/engine/", "<rootDir>/.cache/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 60000,
  // Every test file loads @pulumi/pulumi and its providers into a fresh module registry. One process
  // running file after file (jest's default on 2 cores, where maxWorkers is 1 means "in band") grew
  // to 8-12 GB resident, most of it native memory kept after each full GC, not reachable objects.
  // With a limit jest always runs files in worker processes and replaces a worker whose heap
  // (process.memoryUsage().heapUsed, read by jest-worker when a file ends) is above it: measured on
  // 2 cores, the largest jest process peaked at about 1 GB instead of 12, in the same wall time.
  workerIdleMemoryLimit: "500MB",
};
