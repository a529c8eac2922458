import { CONTAINER, one, resolve, runUnderMocks, uploads } from "../support/harness";

test("FileVolume alone: a never-started, network-less loader uploads each file with its owner and mode", async () => {
  const run = await runUnderMocks("dev", {}, (pulumi) => {
    const { FileVolume } = require("../../components/file-volume");
    const v = new FileVolume("files", {
      volumeName: "iot-test-files",
      image: "sha256:abc",
      files: [
        { path: "tls/server.key", content: pulumi.secret("KEY"), owner: 1000, mode: "0400" },
        { path: "initdb/run.sh", content: "#!/bin/sh", owner: 0, group: 0, mode: "0555" },
      ],
    });
    return { name: v.volumeName, revision: v.revision };
  });
  expect(one(run, "docker:index/volume:Volume", "files-volume").inputs).toMatchObject({ name: "iot-test-files", driver: "local" });
  const loader = one(run, CONTAINER, "files-loader").inputs;
  expect(loader).toMatchObject({ start: false, mustRun: false, networkMode: "none", user: "65534:65534" });
  expect(loader.capabilities).toEqual({ drops: ["ALL"] });
  expect(loader.mounts).toEqual([{ type: "volume", source: "iot-test-files", target: "/staging" }]);
  expect(uploads(one(run, CONTAINER, "files-loader"))).toEqual({
    "tls/server.key": { file: "/staging/tls/server.key", content: "KEY", owner: "1000", group: "1000", permissions: "0400" },
    "initdb/run.sh": { file: "/staging/initdb/run.sh", content: "#!/bin/sh", owner: "0", group: "0", permissions: "0555" },
  });
  expect(await resolve(run.pulumi, run.exports.revision)).toBe("files-loader-id");
});

test.each(["/etc/passwd", "../escape", "tls/../../x"])("refuses a path that leaves the volume: %s", async (path) => {
  await expect(
    runUnderMocks("dev", {}, () => {
      const { FileVolume } = require("../../components/file-volume");
      new FileVolume("files", { volumeName: "v", image: "i", files: [{ path, content: "x", owner: 0, mode: "0444" }] });
      return {};
    }),
  ).rejects.toThrow(/must be relative and stay inside the volume/);
});
