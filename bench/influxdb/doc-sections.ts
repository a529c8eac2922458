// Sections of docs/PERFORMANCE.md that a benchmark other than `npm run bench` writes, each between
// its own pair of markers. `npm run bench` regenerates the rest of the file and carries these
// sections over unchanged (bench/run.ts), so neither benchmark erases the other's figures.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const start = (name: string) => `<!-- generated:${name} -->`;
const end = (name: string) => `<!-- /generated:${name} -->`;
const SECTION = /<!-- generated:([a-z0-9-]+) -->[\s\S]*?<!-- \/generated:\1 -->/g;

/** `doc` with the section `name` set to `body`: replaced where its markers are, else appended. */
export function withSection(doc: string, name: string, body: string): string {
  const block = `${start(name)}\n${body.trim()}\n${end(name)}`;
  const at = doc.indexOf(start(name));
  const until = doc.indexOf(end(name));
  if (at >= 0 && until > at) return doc.slice(0, at) + block + doc.slice(until + end(name).length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** Sets the section `name` of the Markdown file `file` (made if missing) to `body`. */
export function writeSection(file: string, name: string, body: string): void {
  writeFileSync(file, withSection(existsSync(file) ? readFileSync(file, "utf8") : "# Performance\n", name, body));
}

/** `fresh` with every marked section of `previous` that `fresh` lacks appended, in their order. */
export function keepSections(previous: string, fresh: string): string {
  let out = fresh;
  for (const match of previous.matchAll(SECTION)) {
    if (!out.includes(start(match[1]))) out = `${out.trimEnd()}\n\n${match[0]}\n`;
  }
  return out;
}
