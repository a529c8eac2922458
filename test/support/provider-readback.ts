// What the Docker provider stores in the state after reading a container back: the one model of
// the provider's canonical forms in the test suite. A second `pulumi up` compares the program's
// inputs with these values, so every input the program sends must already be in this form.
//
// The provider is kreuzwerker/terraform-provider-docker (bridged by @pulumi/docker):
// - cpus: Create parses the string with docker/cli's opts.ParseCPUs (big.Rat, times 1e9, must be
//   whole nanocpus); Read stores nanoInt64ToDecimalString(HostConfig.NanoCPUs)
//   (internal/provider/helpers.go; vectors in helpers_test.go, TestNanoInt64ToDecimalString).
//   `cpus` is ForceNew: a difference replaces the container.
// - healthcheck interval, timeout, start_period, start_interval: Create parses them with Go's
//   time.ParseDuration; Read stores Duration.String() (resource_docker_container_funcs.go,
//   resourceDockerContainerRead). Vectors: Go's src/time/time_test.go, durationTests.
// - capabilities: the Docker client library the provider uses normalises add/drop on create
//   (docker client container_create.go: upper case, "CAP_" prefix except for "ALL", deduplicated,
//   sorted) and Read stores the normalised lists; `capabilities` is ForceNew.
// - ports: Read stores what the engine reports as the running container's bindings
//   (flattenContainerPorts, internal/provider/resource_docker_container_structures.go): one entry
//   per host binding, ordered by internal port (byPortAndProtocol), with the engine's HostIP and the
//   protocol of the port key. A port given an IPv4 ip is bound (and reported) on that address
//   alone; a port without one is bound on 0.0.0.0 and, on a daemon with IPv6, also on "::", which
//   reads back as two entries and replaces the container at every update (kreuzwerker issue #909,
//   PR #910). `ports` is ForceNew. (Read from the provider's source at commit 83c00e0b.)
// The values below are written independently of the program's own formatter
// (components/provider-values.ts), so that this model can catch it.

const NANO = 1_000_000_000n;

/** docker/cli opts.ParseCPUs: a decimal string to whole nanocpus, or an error. */
export function parseCpus(value: string): bigint {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(value);
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw new Error(`invalid cpus value ${JSON.stringify(value)}`);
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > 9) throw new Error(`value is too precise: ${value}`);
  return BigInt(m[1] || "0") * NANO + BigInt((fraction + "000000000").slice(0, 9) || "0");
}

/** Go's big.Rat.FloatString(prec) for a non-negative n/d: rounded, halves away from zero. */
function floatString(n: bigint, d: bigint, prec: number): string {
  let q = n / d;
  const p = 10n ** BigInt(prec);
  let r = ((n % d) * p) / d;
  const r2 = ((n % d) * p) % d;
  if (r2 * 2n >= d) r += 1n;
  if (r >= p) {
    q += 1n;
    r -= p;
  }
  return prec === 0 ? `${q}` : `${q}.${r.toString().padStart(prec, "0")}`;
}

/** Port of nanoInt64ToDecimalString (kreuzwerker internal/provider/helpers.go). */
export function nanoInt64ToDecimalString(nano: bigint): string {
  if (nano === 0n) return "0";
  const str = floatString(nano, NANO, 9);
  if ((str.match(/0/g) ?? []).length === 9) return floatString(nano, NANO, 1);
  return str.replace(/0+$/, "");
}

const UNITS: Record<string, bigint> = { ns: 1n, us: 1000n, "µs": 1000n, "μs": 1000n, ms: 1_000_000n, s: NANO, m: 60n * NANO, h: 3600n * NANO };

/** Go's time.ParseDuration for non-negative values such as "1m30s", "1.5s", "250ms". */
export function parseGoDuration(value: string): bigint {
  if (value === "0") return 0n;
  const re = /(\d+)(?:\.(\d+))?(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0n;
  let consumed = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const unit = UNITS[m[3]];
    const fraction = m[2] ?? "";
    total += BigInt(m[1]) * unit + (BigInt(fraction || "0") * unit) / 10n ** BigInt(fraction.length);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== value.length) throw new Error(`time: invalid duration ${JSON.stringify(value)}`);
  return total;
}

/** Go's fmtFrac: ".xyz" of v / 10**prec without trailing zeros (nothing when the fraction is 0), and v / 10**prec. */
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let digits = "";
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = `${digit}${digits}`;
    v /= 10n;
  }
  return [print ? `.${digits}` : "", v];
}

/** Port of Go's time.Duration.String(). */
export function goDurationString(d: bigint): string {
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < NANO) {
    if (u === 0n) return "0s";
    const [prec, unit] = u < 1000n ? [0, "ns"] : u < 1_000_000n ? [3, "µs"] : [6, "ms"];
    const [frac, whole] = fmtFrac(u, prec);
    out = `${whole}${frac}${unit}`;
  } else {
    const [frac, seconds] = fmtFrac(u, 9);
    u = seconds;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

const DURATION_KEYS = ["interval", "timeout", "startPeriod", "startInterval"] as const;

function normaliseCapabilities(names: string[]): string[] {
  const upper = names.map((n) => n.toUpperCase()).map((n) => (n === "ALL" || n.startsWith("CAP_") ? n : `CAP_${n}`));
  return [...new Set(upper)].sort();
}

interface PortInput {
  internal: number;
  external?: number;
  ip?: string;
  protocol?: string;
}

/** The ports as Read stores them; a port whose read-back depends on the daemon is refused. */
export function portsReadBack(ports: PortInput[]): PortInput[] {
  return ports
    .map((port) => {
      if (!port.ip) throw new Error(`port ${port.internal} has no ip: read back as one or two bindings (0.0.0.0 and ::) depending on the daemon's IPv6`);
      return { internal: port.internal, external: port.external, ip: port.ip, protocol: port.protocol ?? "tcp" };
    })
    .sort((a, b) => a.internal - b.internal);
}

/**
 * The inputs of a container as the provider would store them after Read, for the inputs whose
 * stored form differs from what was sent: cpus, the health-check durations, capabilities, ports.
 */
export function containerReadBack(inputs: Record<string, any>): Record<string, any> {
  const out = { ...inputs };
  if (inputs.cpus !== undefined) out.cpus = nanoInt64ToDecimalString(parseCpus(inputs.cpus));
  if (inputs.capabilities) {
    out.capabilities = { ...inputs.capabilities };
    for (const key of ["adds", "drops"] as const) {
      if (inputs.capabilities[key] !== undefined) out.capabilities[key] = normaliseCapabilities(inputs.capabilities[key]);
    }
  }
  if (inputs.ports !== undefined) out.ports = portsReadBack(inputs.ports);
  if (inputs.healthcheck) {
    out.healthcheck = { ...inputs.healthcheck };
    for (const key of DURATION_KEYS) {
      if (inputs.healthcheck[key] !== undefined) out.healthcheck[key] = goDurationString(parseGoDuration(inputs.healthcheck[key]));
    }
  }
  return out;
}
