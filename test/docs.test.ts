// The documents point at each other and the code points at them: README.md, SECURITY.md and
// docs/*.md link between themselves, and code, config and docs cite a section in one form,
//   docs/CONFIGURATION.md, "Setup-only settings"
// (the path from the project folder, a comma, the heading's text in double quotes). When a section
// moves or is renamed, every link and citation still pointing at the old place fails here.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { DEFAULT_MEASUREMENT, METRICS_FIELDS, METRICS_MEASUREMENT, METRICS_TAGS, READING_FIELDS, READING_TAGS } from "../simulator/src/schema";

const ROOT = resolve(__dirname, "..");

/** The documents whose links are checked, relative to the project folder. */
function documents(root: string): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`);
  return ["README.md", "SECURITY.md", ...docs.sort()];
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((text, index) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ line: index + 1, text });
  });
  return out;
}

/** A heading's text as GitHub renders it: link targets, code ticks and emphasis marks gone. */
function headingText(raw: string): string {
  return raw
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .replace(/\*\*|\*/g, "")
    .trim();
}

/**
 * GitHub's anchor for a heading (github-slugger): lower case; every character that is not a
 * letter, mark, digit, connector punctuation (such as _), '-' or a space dropped; spaces to '-'.
 */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** A document's headings: their texts, and their anchors (a repeated one gets -1, -2, … as on GitHub). */
export function headings(markdown: string): { texts: Set<string>; anchors: Set<string> } {
  const texts = new Set<string>();
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const match = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text);
    if (!match) continue;
    const plain = headingText(match[1]);
    texts.add(plain);
    const slug = githubSlug(plain);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return { texts, anchors };
}

/** Every inline link target of a document outside code, with its line. */
export function links(markdown: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const withoutCode = text.replace(/`[^`]*`/g, "");
    for (const match of withoutCode.matchAll(/\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line, target: match[1] });
    }
  }
  return out;
}

/** Reads a file of the project, or undefined if there is none. */
type Reader = (path: string) => string | undefined;

const readProjectFile =
  (root: string): Reader =>
  (path) => {
    const full = join(root, path);
    if (!existsSync(full)) return undefined;
    try {
      return readFileSync(full, "utf8");
    } catch {
      return ""; // a directory: it exists, and has no headings
    }
  };

/** The links of `doc` that lead nowhere: a missing file, or an anchor that is no heading of its target. */
export function brokenLinks(doc: string, read: Reader): string[] {
  const problems: string[] = [];
  const content = read(doc) ?? "";
  for (const { line, target } of links(content)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not a file of the project
    const hash = target.indexOf("#");
    const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const file = pathPart === "" ? doc : normalize(join(dirname(doc), pathPart));
    const where = `${doc}:${line}: (${target})`;
    if (file.startsWith("..")) {
      problems.push(`${where} leaves the project folder`);
      continue;
    }
    const targetContent = read(file);
    if (targetContent === undefined) {
      problems.push(`${where}: there is no file ${file}`);
    } else if (anchor !== undefined && !headings(targetContent).anchors.has(anchor)) {
      problems.push(`${where}: ${file} has no heading with the anchor #${anchor}`);
    }
  }
  return problems;
}

/** The citation form: a document's path from the project folder, then the heading's text in quotes. */
const CITATION = /(?<![\w./-])((?:docs\/)?[A-Za-z0-9_-]+\.md), "([^"\n]+)"/g;

/** Citations of `text` (a file of the project) that name no heading of the cited document. */
export function brokenCitations(file: string, text: string, read: Reader): string[] {
  const problems: string[] = [];
  text.split("\n").forEach((line, index) => {
    for (const [, doc, heading] of line.matchAll(CITATION)) {
      const cited = read(doc);
      const where = `${file}:${index + 1}: ${doc}, "${heading}"`;
      if (cited === undefined) problems.push(`${where}: there is no file ${doc}`);
      else if (!headings(cited).texts.has(heading)) problems.push(`${where}: ${doc} has no heading "${heading}"`);
    }
  });
  return problems;
}

/** Mentions of a README section in a form other than the citation form, which this test could not check. */
export function looseReadmeCitations(file: string, text: string): string[] {
  const problems: string[] = [];
  text.split("\n").forEach((line, index) => {
    const loose = /\bREADME(?:\.md)?(?:'s ?|, ?)"[^"\n]+"|\bREADME(?:\.md)?, [A-Z][a-z]/.exec(line.replace(CITATION, ""));
    if (loose) problems.push(`${file}:${index + 1}: "${loose[0]}": cite a section as README.md, "Heading" (or docs/NAME.md, "Heading")`);
  });
  return problems;
}

/** The project's own text files (tracked or new, never ignored ones such as node_modules). */
function projectTextFiles(root: string): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
  return listed
    .split("\0")
    .filter((path) => path !== "" && existsSync(join(root, path)))
    .filter((path) => !/(^|\/)package-lock\.json$|\.(png|jpe?g|gif|ico|pem|gz|tgz)$|^bench\/results\//.test(path));
}

describe("links between the documents", () => {
  const read = readProjectFile(ROOT);

  test.each(documents(ROOT))("%s: every link to a file of the project leads to the file, and its #anchor to a heading", (doc) => {
    expect(brokenLinks(doc, read)).toEqual([]);
  });

  test("the README links to every page of docs/", () => {
    const readmeTargets = new Set(links(read("README.md") ?? "").map(({ target }) => target.split("#")[0]));
    const unlinked = documents(ROOT)
      .filter((doc) => doc.startsWith("docs/"))
      .filter((doc) => !readmeTargets.has(doc));
    expect(unlinked).toEqual([]);
  });
});

describe("citations of a document's section", () => {
  const read = readProjectFile(ROOT);
  // this file's own examples of broken citations are not citations
  const files = projectTextFiles(ROOT).filter((file) => file !== "test/docs.test.ts");

  test("every citation in code, config and docs names a heading that exists", () => {
    const problems = files.flatMap((file) => brokenCitations(file, read(file) ?? "", read));
    expect(problems).toEqual([]);
  });

  test("the setup-only settings are cited where a refused change sends the user (Pulumi.yaml, the setup guard)", () => {
    const citing = (file: string) => ({ file, cites: (read(file) ?? "").includes('docs/CONFIGURATION.md, "Setup-only settings"') });
    for (const file of ["Pulumi.yaml", "components/influxdb-setup-guard.ts"]) expect(citing(file)).toEqual({ file, cites: true });
  });

  test("no file cites a README section in a form this test cannot check", () => {
    const problems = files.flatMap((file) => looseReadmeCitations(file, read(file) ?? ""));
    expect(problems).toEqual([]);
  });
});

describe("the checker itself", () => {
  const files: Record<string, string> = {
    "README.md": "# Title\n\n## Quick start\n\nSee [setup](docs/A.md#setup-only-settings) and [up](#quick-start).\n",
    "docs/A.md": "# A\n\n## Setup-only settings\n\n```\n## not a heading\n```\n\n## Why a second `pulumi up` changes nothing\n\n## Twice\n\n## Twice\n",
  };
  const read: Reader = (path) => files[path];

  test("GitHub's slugs: lower case, punctuation but - and _ dropped, spaces to -", () => {
    expect(githubSlug("Why a second pulumi up changes nothing")).toBe("why-a-second-pulumi-up-changes-nothing");
    expect(githubSlug("Setup-only settings")).toBe("setup-only-settings");
    expect(githubSlug("Secrets: who makes them, who holds them")).toBe("secrets-who-makes-them-who-holds-them");
    expect(githubSlug("(2)(a) Made available")).toBe("2a-made-available");
    expect(githubSlug("snake_case and Ünïcode")).toBe("snake_case-and-ünïcode");
    expect([...headings(files["docs/A.md"]).anchors]).toEqual(["a", "setup-only-settings", "why-a-second-pulumi-up-changes-nothing", "twice", "twice-1"]);
  });

  test("links that resolve pass", () => {
    expect(brokenLinks("README.md", read)).toEqual([]);
  });

  test("a broken anchor, a missing file and a heading inside a code block fail, each named with its line", () => {
    files["docs/B.md"] = "# B\n\n[x](A.md#setup-only)\n[y](MISSING.md)\n[z](A.md#not-a-heading)\n[ok](../README.md#quick-start)\n";
    expect(brokenLinks("docs/B.md", read)).toEqual([
      "docs/B.md:3: (A.md#setup-only): docs/A.md has no heading with the anchor #setup-only",
      "docs/B.md:4: (MISSING.md): there is no file docs/MISSING.md",
      "docs/B.md:5: (A.md#not-a-heading): docs/A.md has no heading with the anchor #not-a-heading",
    ]);
  });

  test("a citation of a heading that does not exist fails; one that exists passes", () => {
    const code = 'refused (docs/A.md, "Setup-only settings").\nsee (docs/A.md, "Setup only settings")\nand README.md, "Nowhere"';
    expect(brokenCitations("x.ts", code, read)).toEqual([
      'x.ts:2: docs/A.md, "Setup only settings": docs/A.md has no heading "Setup only settings"',
      'x.ts:3: README.md, "Nowhere": README.md has no heading "Nowhere"',
    ]);
  });

  test("loose mentions of a README section are refused, the citation form is not", () => {
    expect(looseReadmeCitations("x", 'see the README\'s "Security model"\n(see README, Operations)\nREADME.md, "Quick start"\nthe README says\njoin(dir, "README.md"), "docs"')).toEqual([
      'x:1: "README\'s "Security model"": cite a section as README.md, "Heading" (or docs/NAME.md, "Heading")',
      'x:2: "README, Op": cite a section as README.md, "Heading" (or docs/NAME.md, "Heading")',
    ]);
  });
});

describe("what the documents say the simulator writes", () => {
  // The encoder and the dashboards follow simulator/src/schema.ts by themselves; this page is typed
  // by hand, so a field added to the schema must also be named there.
  const section = (() => {
    const page = readFileSync(join(ROOT, "docs", "SIMULATOR.md"), "utf8");
    const start = page.indexOf("\n## Data schema\n");
    const end = page.indexOf("\n## ", start + 1);
    return page.slice(start, end);
  })();
  const schema = [
    ["measurement", [DEFAULT_MEASUREMENT, METRICS_MEASUREMENT]],
    ["tag", [...READING_TAGS, ...METRICS_TAGS]],
    ["reading field", Object.keys(READING_FIELDS)],
    ["metrics field", Object.keys(METRICS_FIELDS)],
  ] as const;
  test.each(schema.flatMap(([kind, names]) => names.map((name) => [kind, name])))("docs/SIMULATOR.md, \"Data schema\" names the %s %s", (_kind, name) => {
    expect(section).toContain(`\`${name}\``);
  });
});
