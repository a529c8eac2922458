// Values in the exact form the Docker provider stores them after reading the container back.
//
// A second `pulumi up` compares what the program sends with what the provider's Read stored in the
// state: any difference is a diff, and for `cpus` (ForceNew) a replacement of the container. The
// provider is kreuzwerker/terraform-provider-docker, bridged by @pulumi/docker:
//   - cpus: Read stores nanoInt64ToDecimalString(HostConfig.NanoCPUs) (internal/provider/helpers.go),
//     which gives "1.0", "0.5", "0.25", "2.25", and rounds to one decimal whenever the nine-digit
//     form holds exactly nine zeros (0.05 → "0.1"), so some values cannot round-trip at all.
//   - health-check durations: Read stores Go's time.Duration.String() ("60s" → "1m0s").
// test/support/provider-readback.ts models the provider independently, with upstream's own test
// vectors, and checks every container of both stacks against it.

/** The `cpus` string for a limit in thousandths of a core, as the provider reads it back. */
export function cpusValue(millis: number): string {
  if (!Number.isInteger(millis) || millis < 0) throw new Error(`cpu limit must be a whole number of millicores, got ${millis}`);
  if (millis === 0) return "0";
  // big.Rat.FloatString(9) of millis/1000 is exact: three digits of millis, six zeros of padding.
  const nineDigits = `${Math.floor(millis / 1000)}.${String(millis % 1000).padStart(3, "0")}000000`;
  if ((nineDigits.match(/0/g) ?? []).length === 9) {
    // FloatString(1): rounded to one decimal, halves away from zero.
    const tenths = Math.round(millis / 100);
    return `${Math.floor(tenths / 10)}.${tenths % 10}`;
  }
  return nineDigits.replace(/0+$/, "");
}

/** Whether a cpu limit survives the provider's read-back unchanged (see cpusValue). */
export function cpusRoundTrip(millis: number): boolean {
  return Math.round(Number(cpusValue(millis)) * 1000) === millis;
}

/** A whole number of seconds in Go's time.Duration.String() form: 5 → "5s", 60 → "1m0s", 3600 → "1h0m0s". */
export function durationValue(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`duration must be a whole number of seconds, got ${seconds}`);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
