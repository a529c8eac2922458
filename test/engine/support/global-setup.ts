// Prints, once per run, which engine the tier runs against (or why it is skipped).
import { findEngine } from "./engine";

export default function globalSetup(): void {
  // jest's `globals` do not reach the global setup; it runs under jest.engine.config.js anyway.
  const { config, version, skip } = findEngine(false);
  if (skip || !config || !version) {
    console.warn(`\nengine tier SKIPPED (not passed): ${skip}`);
    return;
  }
  const build = config.buildCli ? `${config.buildCli} (${config.buildMode})` : "none that can build with BuildKit";
  console.log(`\nengine tier: Docker Engine ${version.version} (API ${version.apiVersion}, ${version.os}/${version.arch}) at ${config.dockerHost}; build CLI: ${build}`);
}
