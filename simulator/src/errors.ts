import { HttpError } from "@influxdata/influxdb-client";

/** Node's codes for a server certificate that the configured trust store does not accept. */
export const TLS_TRUST_ERROR_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export function isTlsTrustError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && TLS_TRUST_ERROR_CODES.has(code);
}

/**
 * A loggable summary of an error that never carries request headers (and so never the token).
 */
export function describeError(error: unknown): Record<string, unknown> | undefined {
  if (error === undefined || error === null) return undefined;
  if (error instanceof HttpError) {
    return { type: "HttpError", status: error.statusCode, message: error.message, retry_after: error.retryAfter() };
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { type: error.name, message: error.message, ...(code ? { code } : {}) };
  }
  return { message: String(error) };
}
