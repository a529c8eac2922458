/** End-to-end: deploys a real stack; needs a Docker engine and the Pulumi CLI (skips, saying why, without them). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 15 * 60 * 1000,
};
