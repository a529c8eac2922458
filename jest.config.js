/** Unit, mock-based and process-level tests; `npm test` builds the simulator first. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test", "<rootDir>/simulator/test", "<rootDir>/dashboards", "<rootDir>/policy"],
  testMatch: ["**/*.test.ts"],
  // The engine tier has its own config and runner (npm run test:engine), which npm test calls after this.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/e2e/", "<rootDir>/test/engine/", "<rootDir>/.cache/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 60000,
};
