/**
 * Tiers 1 and 2 alone (npm run test:unit): the program under mocks and the process-level tests,
 * without Docker and without the InfluxDB and MQTT tiers. The root config's files minus those tiers'
 * (test/influxdb/, test/mqtt/), which the root `npm test` runs, or skips, when the binaries are built.
 */
const base = require("./jest.config");

module.exports = {
  ...base,
  testPathIgnorePatterns: [...base.testPathIgnorePatterns, "<rootDir>/test/influxdb/", "<rootDir>/test/mqtt/"],
};
