// The line encoder follows schema.ts: every field and tag there reaches the line, each field as its
// encoding says, with nothing to list by hand. Expectations are derived from the schema, so a field
// added to schema.ts that the encoder (or the signal model) skips fails here.
import { Fleet } from "../src/fleet";
import { LineEncoder } from "../src/line-encoder";
import { READING_FIELDS, READING_TAGS, type FieldEncoding, type ReadingField } from "../src/schema";
import type { Reading } from "../src/signal-model";

const FIELD_NAMES = Object.keys(READING_FIELDS) as ReadingField[];
const T0 = Date.UTC(2026, 10, 1);
const NO_FAULTS = { spikeRate: 0, stuckRate: 0, dropoutRate: 0 };

/** A line split into its parts, with each field's value kept as written (to check its format). */
function split(line: string) {
  const [series, fieldText, timestamp, ...rest] = line.split(" ");
  expect(rest).toEqual([]);
  const [measurement, ...tagPairs] = series.split(",");
  return {
    measurement,
    tags: tagPairs.map((pair) => pair.split("=")),
    fields: fieldText.split(",").map((pair) => pair.split("=")),
    timestamp,
  };
}

/** How the schema says a value must be written: x.toFixed(decimals) without "-0", or an integer with `i`. */
function expectedText(encoding: FieldEncoding, value: number): string {
  if (encoding.type === "integer") return `${Math.round(value)}i`;
  return value.toFixed(encoding.decimals).replace(/^-(0\.0+)$/, "$1");
}

/** A reading with a different value for each field of the schema, whatever fields it has. */
function readingFromSchema(valueOf: (i: number) => number): Reading {
  return Object.fromEntries(FIELD_NAMES.map((name, i) => [name, valueOf(i)])) as Reading;
}

function encode(reading: Reading, t = T0, device = 41, initialBytes?: number): string {
  const encoder = new LineEncoder("environment", "plant-7", 6, initialBytes);
  encoder.append(device, reading, t);
  return encoder.take();
}

describe("the line encoder writes what schema.ts describes", () => {
  test("every tag, in the schema's order", () => {
    const line = split(encode(readingFromSchema((i) => i)));
    expect(line.measurement).toBe("environment");
    expect(line.tags.map(([key]) => key)).toEqual([...READING_TAGS]);
    expect(Object.fromEntries(line.tags)).toEqual({ device: "dev-000042", site: "plant-7" });
  });

  test("every field, in the schema's order, each with its type's format and suffix", () => {
    const reading = readingFromSchema((i) => -12.3456 + 7.891 * i);
    const line = split(encode(reading));
    expect(line.fields.map(([key]) => key)).toEqual(FIELD_NAMES);
    for (const [key, text] of line.fields) {
      const name = key as ReadingField;
      expect({ field: name, text }).toEqual({ field: name, text: expectedText(READING_FIELDS[name], reading[name]) });
    }
    expect(line.timestamp).toBe(String(T0));
  });

  test("the widest values of every field fit: the buffer grows before a line could overflow it", () => {
    // |x| just below 2^31 / 10^decimals: the most digits each field can take.
    const widest = (sign: number) => readingFromSchema((i) => {
      const encoding: FieldEncoding = READING_FIELDS[FIELD_NAMES[i]];
      return sign * (encoding.type === "integer" ? 2 ** 31 - 1 : (2 ** 31 - 1) / 10 ** encoding.decimals);
    });
    const encoder = new LineEncoder("a-long-measurement-name", "a-long-site-name", 9, 1);
    const farFuture = Number.MAX_SAFE_INTEGER; // 16 digits, in the year 285,000
    const readings = [widest(-1), widest(1), widest(-1)];
    for (const [device, reading] of readings.entries()) encoder.append(999_999_996 + device, reading, farFuture);
    const lines = encoder.take().split("\n");
    expect(lines).toHaveLength(3);
    lines.forEach((text, device) => {
      const line = split(text);
      expect(Object.fromEntries(line.tags).device).toBe(`dev-${999_999_997 + device}`);
      expect(Object.fromEntries(line.fields)).toEqual(Object.fromEntries(FIELD_NAMES.map((name) => [name, expectedText(READING_FIELDS[name], readings[device][name])])));
      expect(line.timestamp).toBe(String(farFuture));
    });
  });

  test("the simulator's own readings carry every field, each varying over a day (none left unset by the signal model)", () => {
    const fleet = new Fleet({ devices: 3, intervalMs: 600_000, seed: 9, site: "s", measurement: "environment", faults: NO_FAULTS });
    fleet.seek(T0);
    const lines = fleet.take(T0 + 86_400_000, Number.MAX_SAFE_INTEGER, true)!.text.split("\n").map(split);
    const valuesOf = new Map<string, Set<string>>();
    for (const line of lines) {
      expect(line.fields.map(([key]) => key)).toEqual(FIELD_NAMES);
      for (const [key, text] of line.fields) {
        const encoding: FieldEncoding = READING_FIELDS[key as ReadingField];
        expect({ field: key, text }).toEqual({ field: key, text: expect.stringMatching(encoding.type === "integer" ? /^-?\d+i$/ : new RegExp(`^-?\\d+\\.\\d{${encoding.decimals}}$`)) });
        valuesOf.set(key, (valuesOf.get(key) ?? new Set()).add(text));
      }
    }
    for (const name of FIELD_NAMES) expect({ field: name, distinctValues: valuesOf.get(name)!.size > 1 }).toEqual({ field: name, distinctValues: true });
  });
});

describe("a schema the encoder cannot write is refused when the simulator loads, naming the field", () => {
  function loadEncoderWith(fields: Record<string, unknown>): void {
    jest.isolateModules(() => {
      jest.doMock("../src/schema", () => ({ ...jest.requireActual("../src/schema"), READING_FIELDS: fields }));
      require("../src/line-encoder");
    });
  }
  afterEach(() => jest.dontMock("../src/schema"));

  test.each([
    ["_hidden", { type: "float", decimals: 1 }, 'schema.ts: reading field "_hidden" must start with a letter and use only A-Z a-z 0-9 _'],
    ["co2 ppm", { type: "integer" }, 'schema.ts: reading field "co2 ppm" must start with a letter and use only A-Z a-z 0-9 _'],
    ["co2_ppm", { type: "float", decimals: 0 }, 'schema.ts: reading field "co2_ppm" has decimals 0; allowed: an integer from 1 to 6'],
  ])("%s", (name, encoding, message) => {
    expect(() => loadEncoderWith({ temperature_c: { type: "float", decimals: 2 }, [name]: encoding })).toThrow(message);
  });

  test("a valid one loads", () => {
    expect(() => loadEncoderWith({ temperature_c: { type: "float", decimals: 2 }, co2_ppm: { type: "integer" } })).not.toThrow();
  });
});
