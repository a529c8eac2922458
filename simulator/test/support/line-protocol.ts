// A strict parser for the subset of line protocol the simulator writes: unescaped
// measurement and tags, float and integer fields, integer timestamp.
export interface ParsedPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  integerFields: string[];
  timestamp: number;
}

export function parseLine(line: string): ParsedPoint {
  const parts = line.split(" ");
  if (parts.length !== 3) throw new Error(`expected "series fields timestamp": ${line}`);
  const [series, fieldText, timeText] = parts;
  const [measurement, ...tagPairs] = series.split(",");
  if (!measurement) throw new Error(`missing measurement: ${line}`);
  const tags: Record<string, string> = {};
  for (const pair of tagPairs) {
    const [key, value] = pair.split("=");
    if (!key || value === undefined || value === "") throw new Error(`bad tag "${pair}": ${line}`);
    tags[key] = value;
  }
  const fields: Record<string, number> = {};
  const integerFields: string[] = [];
  for (const pair of fieldText.split(",")) {
    const [key, raw] = pair.split("=");
    if (!key || raw === undefined) throw new Error(`bad field "${pair}": ${line}`);
    const isInteger = raw.endsWith("i");
    const text = isInteger ? raw.slice(0, -1) : raw;
    if (!/^-?\d+(\.\d+)?$/.test(text) || (isInteger && text.includes("."))) throw new Error(`bad field value "${pair}": ${line}`);
    fields[key] = Number(text);
    if (isInteger) integerFields.push(key);
  }
  if (!/^\d+$/.test(timeText)) throw new Error(`bad timestamp: ${line}`);
  return { measurement, tags, fields, integerFields, timestamp: Number(timeText) };
}

/** Series key plus timestamp: what InfluxDB uses to decide that two points are the same point. */
export function pointKey(p: ParsedPoint): string {
  const tags = Object.keys(p.tags).sort().map((k) => `${k}=${p.tags[k]}`).join(",");
  return `${p.measurement},${tags} ${p.timestamp}`;
}
