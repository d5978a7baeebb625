// The layering rules of ARCHITECTURE.md, checked over the import graph (`npm run lint` runs the
// check; harness/layering/layering.test.ts plants violations). Imports only point down:
//   stack (0) <- xen-sim (1) <- harness (2) <- benchmarks, bin, test (3)
// stack/ and xen-sim/ outside their tests must run in a browser: no `node:` built-ins, no
// packages. test/ is importable only by tests (`*.test.ts` anywhere, and test/ itself).
// Every import counts: `import`, `import type`, `export ... from`, `import()`, `require()` and
// `/// <reference types>`, read with TypeScript's own pre-processor (comments and strings skipped).
// A dev tool: it needs the `typescript` devDependency, so tsconfig.build.json leaves it out of dist/.
//   LAYERS, LAYERING_EXCEPTIONS, importsOf, checkImports, checkTree, formatViolation
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, posix } from "node:path";
import ts from "typescript";

/** Top-level folders and their rank: a file may import from its own rank or below. */
export const LAYERS: Readonly<Record<string, number>> = { stack: 0, "xen-sim": 1, harness: 2, benchmarks: 3, bin: 3, test: 3 };

/** Folders whose non-test code must run in a browser (no `node:` built-ins, no packages). */
const PORTABLE = new Set(["stack", "xen-sim"]);

/** A documented exception: `file` may import `specifier` although a rule forbids it. */
export interface LayeringException {
  readonly file: string;
  readonly specifier: string;
  readonly reason: string;
}

/** The documented exceptions (none today; add one with its reason rather than weaken a rule). */
export const LAYERING_EXCEPTIONS: readonly LayeringException[] = [];

/** One import of one file; `file` is repository-relative with forward slashes. */
export interface ImportEdge {
  readonly file: string;
  readonly specifier: string;
  /** 1-based. */
  readonly line: number;
}

/** Which rule an import breaks. */
export type LayeringRule = "points-up" | "test-only" | "node-builtin" | "package" | "outside-repo";

/** An import that breaks a rule. */
export interface LayeringViolation extends ImportEdge {
  readonly rule: LayeringRule;
  readonly message: string;
}

/** Files that are tests: `*.test.ts` anywhere and everything under test/. */
export function isTestFile(file: string): boolean {
  return /\.test\.[cm]?[jt]s$/.test(file) || file.startsWith("test/");
}

/** The imports of one source file (`file` is only recorded, `text` is parsed). */
export function importsOf(file: string, text: string): ImportEdge[] {
  const info = ts.preProcessFile(text, true, true);
  const newlines: number[] = [];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) newlines.push(i);
  const lineOf = (pos: number): number => {
    let lo = 0,
      hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (newlines[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const refs = [...info.importedFiles, ...info.typeReferenceDirectives.map((r) => ({ ...r, fileName: r.fileName === "node" ? "node:" : r.fileName }))];
  return refs.map((r) => ({ file, specifier: r.fileName, line: lineOf(r.pos) }));
}

const NODE_BUILTINS = new Set(builtinModules);

function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || NODE_BUILTINS.has(specifier.split("/")[0]!);
}

/** Checks edges against the rules; `exceptions` defaults to LAYERING_EXCEPTIONS. */
export function checkImports(edges: readonly ImportEdge[], exceptions: readonly LayeringException[] = LAYERING_EXCEPTIONS): LayeringViolation[] {
  const out: LayeringViolation[] = [];
  for (const e of edges) {
    const v = violationOf(e);
    if (v !== undefined && !exceptions.some((x) => x.file === e.file && x.specifier === e.specifier)) out.push(v);
  }
  return out;
}

function violationOf(e: ImportEdge): LayeringViolation | undefined {
  const fromTop = e.file.split("/")[0]!;
  const fromRank = LAYERS[fromTop];
  const test = isTestFile(e.file);
  const portable = PORTABLE.has(fromTop) && !test;
  if (!e.specifier.startsWith(".")) {
    if (isNodeBuiltin(e.specifier)) {
      return portable
        ? { ...e, rule: "node-builtin", message: `${fromTop}/ must run in a browser; it may not import the Node built-in '${e.specifier}'` }
        : undefined;
    }
    return portable
      ? { ...e, rule: "package", message: `${fromTop}/ takes what it needs from the world as arguments; it may not import the package '${e.specifier}'` }
      : undefined;
  }
  const target = posix.normalize(posix.join(posix.dirname(e.file), e.specifier));
  if (target.startsWith("../")) return { ...e, rule: "outside-repo", message: `'${e.specifier}' leaves the repository` };
  const toTop = target.split("/")[0]!;
  if (toTop === "test" && !test) {
    return { ...e, rule: "test-only", message: `only tests may import from test/ ('${target}'); move what is shared below the layers that use it` };
  }
  const toRank = LAYERS[toTop];
  if (fromRank !== undefined && toRank !== undefined && toRank > fromRank && toTop !== "test") {
    return {
      ...e,
      rule: "points-up",
      message: `${fromTop}/ may not import from ${toTop}/ ('${target}'): imports only point down (stack <- xen-sim <- harness)`,
    };
  }
  return undefined;
}

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;

/** Repository-relative paths of the source files under the layer folders of `root`. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (d.name !== "node_modules") walk(p);
      } else if (SOURCE.test(d.name) && !d.name.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const top of Object.keys(LAYERS)) {
    try {
      walk(top);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return out.sort();
}

/** Checks every source file under `root`'s layer folders. */
export function checkTree(
  root: string,
  exceptions: readonly LayeringException[] = LAYERING_EXCEPTIONS,
): { files: number; imports: number; violations: LayeringViolation[] } {
  const files = sourceFiles(root);
  const edges = files.flatMap((f) => importsOf(f, readFileSync(join(root, f), "utf8")));
  return { files: files.length, imports: edges.length, violations: checkImports(edges, exceptions) };
}

/** One line: `file:line: [rule] message`. */
export function formatViolation(v: LayeringViolation): string {
  return `${v.file}:${v.line}: [${v.rule}] ${v.message}`;
}
