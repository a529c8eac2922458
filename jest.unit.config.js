/**
 * Tiers 1 and 2 alone (npm run test:unit): the program under mocks and the process-level tests,
 * without Docker and without the InfluxDB tier. The root config's files minus the InfluxDB tier's
 * (test/influxdb/), which the root `npm test` runs, or skips, when the binaries are built.
 */
const base = require("./jest.config");

module.exports = {
  ...base,
  testPathIgnorePatterns: [...base.testPathIgnorePatterns, "<rootDir>/test/influxdb/"],
};
