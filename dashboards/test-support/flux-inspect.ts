// Test support: reads a Flux query's text back (independently of the builders that wrote it) for
// the measurement, fields and columns it uses, and walks built dashboards for their queries.
import type { Dashboard, Panel } from "@grafana/grafana-foundation-sdk/dashboard";
import { METRICS_FIELDS, METRICS_MEASUREMENT, METRICS_TAGS, READING_FIELDS, READING_TAGS } from "../../simulator/src/schema";
import { COMPUTED_COLUMNS } from "../queries";

/** Columns every Flux table has or that Flux functions add. */
const FLUX_COLUMNS = ["_measurement", "_field", "_value", "_time", "_start", "_stop"];

export interface QueryUse {
  measurements: string[];
  fields: string[];
  /** every other column the query names: r.x, keep/group/pivot/rename/distinct arguments */
  columns: string[];
}

const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]);

export function usesOf(query: string): QueryUse {
  const measurements = all(query, /r\._measurement == "([^"]+)"/g);
  const fields = all(query, /r\._field == "([^"]+)"/g);
  const columns = new Set<string>();
  for (const name of all(query, /\br\.([A-Za-z_][A-Za-z0-9_]*)/g)) columns.add(name);
  for (const list of all(query, /columns: \[([^\]]*)\]/g)) for (const name of all(list, /"([^"]+)"/g)) columns.add(name);
  for (const name of all(query, /column: "([^"]+)"/g)) columns.add(name);
  for (const name of all(query, /columnKey: \["([^"]+)"\]/g)) columns.add(name);
  for (const mapping of all(query, /rename\(columns: \{([^}]*)\}/g)) {
    for (const [, from, to] of mapping.matchAll(/([A-Za-z_][A-Za-z0-9_]*): "([^"]+)"/g)) columns.add(from).add(to);
  }
  return { measurements: [...new Set(measurements)], fields: [...new Set(fields)], columns: [...columns].filter((c) => !FLUX_COLUMNS.includes(c)) };
}

/**
 * What a query uses that the simulator's schema does not have, as messages (empty when all is
 * well). The measurement decides which schema applies.
 */
export function schemaProblems(query: string, readingsMeasurement: string): string[] {
  const use = usesOf(query);
  const problems: string[] = [];
  if (use.measurements.length !== 1) problems.push(`names ${use.measurements.length} measurements (${use.measurements.join(", ")}), expected one`);
  const measurement = use.measurements[0];
  const schema =
    measurement === readingsMeasurement
      ? { fields: Object.keys(READING_FIELDS), tags: [...READING_TAGS] }
      : measurement === METRICS_MEASUREMENT
        ? { fields: Object.keys(METRICS_FIELDS), tags: [...METRICS_TAGS] }
        : undefined;
  if (!schema) return [...problems, `unknown measurement ${measurement}`];
  for (const field of use.fields) if (!schema.fields.includes(field)) problems.push(`field ${field} is not in ${measurement}'s schema`);
  const allowed = new Set<string>([...schema.fields, ...schema.tags, ...COMPUTED_COLUMNS]);
  for (const column of use.columns) if (!allowed.has(column)) problems.push(`column ${column} is neither a field or tag of ${measurement} nor a computed column`);
  return problems;
}

export interface FoundQuery {
  where: string;
  query: string;
  panel?: Panel;
}

/** Every Flux query of a dashboard: its panels' targets and its variables, the way an outside reader would walk the JSON. */
export function dashboardQueries(d: Dashboard): FoundQuery[] {
  const found: FoundQuery[] = [];
  for (const panel of (d.panels ?? []) as Panel[]) {
    for (const target of (panel.targets ?? []) as Array<{ refId?: string; query?: string }>) {
      found.push({ where: `${d.uid} panel ${panel.id} "${panel.title}" ${target.refId}`, query: target.query ?? "", panel });
    }
  }
  for (const variable of d.templating?.list ?? []) {
    const query = variable.query as { query?: string } | string | undefined;
    found.push({ where: `${d.uid} variable ${variable.name}`, query: typeof query === "string" ? query : (query?.query ?? "") });
  }
  return found;
}
