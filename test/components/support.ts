// Shared inputs for the component tests that build one service alone.
import type { ContainerPolicy } from "../../settings";

export const POLICY: ContainerPolicy = {
  restartPolicy: "on-failure",
  restartMaxRetries: 3,
  logMaxSize: "10m",
  logMaxFiles: 3,
  startupTimeoutSeconds: 120,
};
export const LIMITS = { memoryMb: 512, cpuMillis: 500 };
export const TLS = (pulumi: typeof import("@pulumi/pulumi")) => ({
  certPem: "CERT",
  privateKeyPem: pulumi.secret("SERVER-KEY"),
  caCertPem: "CA",
  minVersion: "1.3" as const,
});
