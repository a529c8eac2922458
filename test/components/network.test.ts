import { ofType, one, runUnderMocks } from "../support/harness";

test("Network alone: an internal backend and a frontend, named from the prefix, no IPv6", async () => {
  const run = await runUnderMocks("dev", {}, () => {
    const { Network } = require("../../components/network");
    const network = new Network("net", { namePrefix: "iot-test" });
    return { backend: network.backendName, frontend: network.frontendName };
  });
  expect(ofType(run, "iot:index:Network").map((r) => r.name)).toEqual(["net"]);
  const backend = one(run, "docker:index/network:Network", "net-backend").inputs;
  const frontend = one(run, "docker:index/network:Network", "net-frontend").inputs;
  expect(backend).toMatchObject({ name: "iot-test-backend", driver: "bridge", internal: true, attachable: false, ipv6: false });
  expect(frontend).toMatchObject({ name: "iot-test-frontend", driver: "bridge", internal: false, attachable: false, ipv6: false });
  expect(run.exports.backend).toBeDefined();
});
