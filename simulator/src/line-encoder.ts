import { READING_FIELDS, type FieldEncoding, type READING_TAGS, type ReadingField } from "./schema";
import type { Reading } from "./signal-model";

const tag = (name: (typeof READING_TAGS)[number]) => name;
// The tags' values have different sources (the device number per line, SIM_SITE per run), so they
// are written by hand; this fails to compile when schema.ts gains or loses a tag, so that a new tag
// cannot be skipped silently.
const TAGS_WRITTEN: typeof READING_TAGS = ["device", "site"];
void TAGS_WRITTEN;

const NEWLINE = 10;
const SPACE = 32;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const INTEGER_SUFFIX = 105; // "i"

const FIELD_NAMES = Object.keys(READING_FIELDS) as ReadingField[];
for (const name of FIELD_NAMES) {
  // Names go into every line unescaped, into the generated code below and into Flux queries; a
  // leading _ is reserved by InfluxDB (line protocol reference, "Naming restrictions").
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new Error(`schema.ts: reading field "${name}" must start with a letter and use only A-Z a-z 0-9 _`);
  const encoding: FieldEncoding = READING_FIELDS[name];
  if (encoding.type === "float" && !(Number.isInteger(encoding.decimals) && encoding.decimals >= 1 && encoding.decimals <= 6)) {
    throw new Error(`schema.ts: reading field "${name}" has decimals ${encoding.decimals}; allowed: an integer from 1 to 6`);
  }
}
/** ",humidity_pct=" …: what precedes each field but the first (whose bytes follow the site's). */
const FIELD_PREFIXES = FIELD_NAMES.map((name) => ascii(`,${name}=`));

/**
 * Writes the fields of one reading at p and returns the position after them. Generated once, at
 * module load, from READING_FIELDS: one straight-line statement per field with its name and
 * precision as constants, the code a hand-written encoder would have. A loop over the fields does
 * the same work but reads r[name] with a different name each time, which V8 can only do through a
 * generic (megamorphic) lookup: measured (callgrind) at 11 % more instructions per line than this,
 * which matches the hand-written encoder it replaced. Needs code generation from strings, which
 * Node allows unless started with --disallow-code-generation-from-strings.
 */
const writeFields = ((): ((b: Uint8Array, p: number, r: Reading) => number) => {
  const statements = FIELD_NAMES.map((name, i) => {
    const encoding: FieldEncoding = READING_FIELDS[name];
    const prefix = i === 0 ? "" : `p = copy(b, p, prefixes[${i}]);\n`;
    return encoding.type === "integer"
      ? `${prefix}p = smallInteger(b, p, Math.round(r.${name}));\nb[p++] = ${INTEGER_SUFFIX};`
      : `${prefix}p = fixed(b, p, r.${name}, ${10 ** encoding.decimals}, ${encoding.decimals});`;
  });
  const source = `"use strict";\nreturn function writeFields(b, p, r) {\n${statements.join("\n")}\nreturn p;\n};\n//# sourceURL=line-encoder-fields.js`;
  return new Function("copy", "fixed", "smallInteger", "prefixes", source)(copy, fixed, smallInteger, FIELD_PREFIXES);
})();

/**
 * The longest line the encoder can write, checked before each line is written: the constant parts
 * plus the widest number each part can take.
 */
function maxLineBytes(headBytes: number, siteAndFirstFieldBytes: number, deviceDigits: number): number {
  const widestInteger = 11; // sign and 10 digits: |n| < 2^31
  let fields = siteAndFirstFieldBytes;
  FIELD_NAMES.forEach((name, i) => {
    const encoding: FieldEncoding = READING_FIELDS[name];
    if (i > 0) fields += FIELD_PREFIXES[i].length;
    fields += encoding.type === "integer" ? widestInteger + 1 : widestInteger + 1 + encoding.decimals;
  });
  const widestTimestamp = 10 + 7; // high part below 2^31, then 7 digits
  return 1 + headBytes + deviceDigits + fields + 1 + widestTimestamp;
}

/**
 * Writes line protocol straight into a byte buffer: constant parts are copied from pre-encoded
 * bytes, numbers are written digit by digit as fixed-point integers. The text of a whole chunk
 * becomes one string at the end, so generating a reading allocates nothing. This is the
 * simulator's hot path; `Fleet.line` gives the same text one line at a time.
 *
 * The fields are those of READING_FIELDS (schema.ts), in its order, each as its encoding says.
 * Measurement and site are validated to A-Z a-z 0-9 _ . - by the configuration, and field names
 * above, so no escaping is needed and every byte is ASCII.
 */
export class LineEncoder {
  private buffer: Uint8Array;
  private position = 0;
  /** lines in the current chunk */
  lines = 0;
  private readonly head: Uint8Array;
  /** ",site=<site> temperature_c=": the last tag and the first field's name in one copy */
  private readonly siteAndFirstField: Uint8Array;
  private readonly maxLineBytes: number;

  constructor(
    measurement: string,
    site: string,
    /** device numbers are zero-padded to this width (dev-000001) */
    private readonly deviceDigits: number,
    initialBytes = 64 * 1024,
  ) {
    this.head = ascii(`${measurement},${tag("device")}=dev-`);
    this.siteAndFirstField = ascii(`,${tag("site")}=${site} ${FIELD_NAMES[0]}=`);
    this.maxLineBytes = maxLineBytes(this.head.length, this.siteAndFirstField.length, deviceDigits);
    this.buffer = new Uint8Array(Math.max(initialBytes, this.maxLineBytes));
  }

  /** Appends one line (after a newline if the chunk is not empty). */
  append(device: number, r: Reading, t: number): void {
    if (this.position + this.maxLineBytes > this.buffer.length) this.grow();
    // Runs once per point: the buffer and position live in locals, and the helpers below are small
    // module functions with integer arithmetic (| 0), which the JIT inlines.
    const b = this.buffer;
    let p = this.position;
    if (this.lines > 0) b[p++] = NEWLINE;
    p = copy(b, p, this.head);
    p = padded(b, p, device + 1, this.deviceDigits);
    p = copy(b, p, this.siteAndFirstField);
    p = writeFields(b, p, r);
    b[p++] = SPACE;
    // A millisecond timestamp has 13 digits until the year 2286: 6 high, 7 low, both below 2^31.
    const high = Math.floor(t / 10_000_000);
    p = smallInteger(b, p, high);
    p = padded(b, p, t - high * 10_000_000, 7);
    this.position = p;
    this.lines++;
  }

  /** The chunk's text (lines separated by newlines, none at the end); starts a new chunk. */
  take(): string {
    const text = Buffer.from(this.buffer.buffer, this.buffer.byteOffset, this.position).toString("latin1");
    this.position = 0;
    this.lines = 0;
    return text;
  }

  private grow(): void {
    const bigger = new Uint8Array(this.buffer.length * 2);
    bigger.set(this.buffer.subarray(0, this.position));
    this.buffer = bigger;
  }
}

function copy(b: Uint8Array, p: number, bytes: Uint8Array): number {
  // set() is a native copy: measured faster than a byte loop for these 2-30 byte runs.
  b.set(bytes, p);
  return p + bytes.length;
}

/** ASCII of 00 … 99, two bytes each: two digits per division. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = ZERO + Math.floor(i / 10);
  DIGIT_PAIRS[2 * i + 1] = ZERO + (i % 10);
}

/** Fixed-point, as x.toFixed(decimals) writes it (ties may round the other way; never "-0"). Assumes |x| < 2^31 / scale. */
function fixed(b: Uint8Array, p: number, x: number, scale: number, decimals: number): number {
  let n = Math.round(x * scale);
  if (n < 0) {
    b[p++] = MINUS;
    n = -n;
  }
  const whole = (n / scale) | 0;
  p = smallInteger(b, p, whole);
  b[p++] = DOT;
  return padded(b, p, n - whole * scale, decimals);
}

/** An integer with |n| < 2^31, in decimal. */
function smallInteger(b: Uint8Array, p: number, n: number): number {
  if (n < 0) {
    b[p++] = MINUS;
    n = -n;
  }
  const width = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
  return padded(b, p, n, width);
}

/** A non-negative integer below 2^31, left-padded with zeros to `width` digits. */
function padded(b: Uint8Array, p: number, n: number, width: number): number {
  let i = p + width - 1;
  while (i > p) {
    const q = (n / 100) | 0;
    const pair = (n - q * 100) * 2;
    b[i] = DIGIT_PAIRS[pair + 1];
    b[i - 1] = DIGIT_PAIRS[pair];
    n = q;
    i -= 2;
  }
  if (i === p) b[i] = ZERO + n - ((n / 10) | 0) * 10;
  return p + width;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, "latin1"));
}

/** Lines in a chunk of text made by LineEncoder.take. */
export function countLines(text: string): number {
  let count = 1;
  let i = -1;
  while ((i = text.indexOf("\n", i + 1)) !== -1) count++;
  return count;
}
