import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkImports, checkTree, formatViolation, importsOf, type ImportEdge } from "./layering.ts";

const edge = (file: string, specifier: string): ImportEdge => ({ file, specifier, line: 1 });
const rulesOf = (edges: ImportEdge[]): string[] => checkImports(edges, []).map((v) => v.rule);

describe("importsOf()", () => {
  it("reads every kind of import with its line, and skips comments and strings", () => {
    const text = [
      '/// <reference types="node" />',
      'import { a } from "./a.ts";',
      'import type { B } from "../b.ts";',
      'export { c } from "./c.ts";',
      '// import { x } from "node:fs";',
      "const s = \"import { y } from 'node:os'\";",
      'const m = await import("node:path");',
    ].join("\n");
    expect(
      importsOf("stack/x.ts", text)
        .map((e) => [e.specifier, e.line])
        .sort(),
    ).toEqual(
      [
        ["node:", 1],
        ["./a.ts", 2],
        ["../b.ts", 3],
        ["./c.ts", 4],
        ["node:path", 7],
      ].sort(),
    );
  });
});

describe("checkImports()", () => {
  it("lets each layer import its own layer and the layers below", () => {
    expect(
      rulesOf([
        edge("stack/net/ipv4.ts", "../wire/ipv4.ts"),
        edge("xen-sim/net/netfront.ts", "../../stack/link/types.ts"),
        edge("harness/sim/transfer.ts", "../../xen-sim/index.ts"),
        edge("harness/sim/transfer.ts", "node:fs"),
        edge("benchmarks/suites/tcp.ts", "../../harness/index.ts"),
      ]),
    ).toEqual([]);
  });

  it("refuses an import that points up", () => {
    const v = checkImports([edge("stack/net/ipv4.ts", "../../xen-sim/memory/memory.ts")], []);
    expect(v.map((x) => x.rule)).toEqual(["points-up"]);
    expect(formatViolation(v[0]!)).toBe(
      "stack/net/ipv4.ts:1: [points-up] stack/ may not import from xen-sim/ ('xen-sim/memory/memory.ts'): imports only point down (stack <- xen-sim <- harness)",
    );
    expect(rulesOf([edge("xen-sim/net/netback.ts", "../../harness/tap/tap.ts")])).toEqual(["points-up"]);
    expect(rulesOf([edge("harness/cli/main.ts", "../../benchmarks/lib/run.ts")])).toEqual(["points-up"]);
    expect(rulesOf([edge("stack/net/ipv4.test.ts", "../../harness/http/testing.ts")])).toEqual(["points-up"]);
  });

  it("lets only tests import from test/ (the upward import issue 18 found in a fuzz target)", () => {
    expect(rulesOf([edge("harness/fuzz/targets/netback-hostile.ts", "../../../test/xen/helpers.ts")])).toEqual(["test-only"]);
    expect(rulesOf([edge("stack/net/test-net.ts", "../../test/kit.ts")])).toEqual(["test-only"]);
    expect(
      rulesOf([
        edge("harness/fuzz/targets/netback-hostile.test.ts", "../../../test/xen/helpers.ts"),
        edge("stack/net/ipv4.test.ts", "../../test/kit.ts"),
        edge("test/xen/net-tcp.test.ts", "./helpers.ts"),
        edge("test/xen/helpers.ts", "../../harness/index.ts"),
      ]),
    ).toEqual([]);
  });

  it("keeps Node built-ins and packages out of stack/ and xen-sim/, but not out of their tests", () => {
    expect(rulesOf([edge("stack/time.ts", "node:perf_hooks")])).toEqual(["node-builtin"]);
    expect(rulesOf([edge("xen-sim/memory/memory.ts", "worker_threads")])).toEqual(["node-builtin"]);
    expect(rulesOf([edge("stack/wire/ipv4.ts", "node:")])).toEqual(["node-builtin"]);
    expect(rulesOf([edge("xen-sim/xenstore/wire.ts", "fast-check")])).toEqual(["package"]);
    expect(rulesOf([edge("stack/wire/ipv4.test.ts", "fast-check"), edge("xen-sim/ring/ring.test.ts", "node:crypto")])).toEqual([]);
  });

  it("refuses a path that leaves the repository", () => {
    expect(rulesOf([edge("stack/index.ts", "../../elsewhere/x.ts")])).toEqual(["outside-repo"]);
  });

  it("passes a documented exception, and only that one", () => {
    const exceptions = [{ file: "xen-sim/memory/memory.ts", specifier: "node:worker_threads", reason: "example" }];
    const edges = [edge("xen-sim/memory/memory.ts", "node:worker_threads"), edge("xen-sim/memory/memory.ts", "node:fs")];
    expect(checkImports(edges, exceptions).map((v) => v.specifier)).toEqual(["node:fs"]);
  });
});

describe("checkTree()", () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  const plant = (files: Record<string, string>): string => {
    root = mkdtempSync(join(tmpdir(), "netlab-layering-"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };

  it("finds planted violations in a tree, with their lines", () => {
    const r = checkTree(
      plant({
        "stack/wire/ipv4.ts": 'import { x } from "./checksum.ts";\nimport { readFileSync } from "node:fs";\n',
        "stack/wire/checksum.ts": "export const x = 1;\n",
        "xen-sim/net/netback.ts": 'import { run } from "../../harness/cli/main.ts";\n',
        "harness/fuzz/targets/netback-hostile.ts": '\n\nimport { settle } from "../../../test/xen/helpers.ts";\n',
        "harness/cli/main.ts": "export const run = 1;\n",
        "test/xen/helpers.ts": 'import { x } from "../../stack/wire/checksum.ts";\n',
      }),
      [],
    );
    expect(r.files).toBe(6);
    expect(r.violations.map(formatViolation)).toEqual([
      "harness/fuzz/targets/netback-hostile.ts:3: [test-only] only tests may import from test/ ('test/xen/helpers.ts'); move what is shared below the layers that use it",
      "stack/wire/ipv4.ts:2: [node-builtin] stack/ must run in a browser; it may not import the Node built-in 'node:fs'",
      "xen-sim/net/netback.ts:1: [points-up] xen-sim/ may not import from harness/ ('harness/cli/main.ts'): imports only point down (stack <- xen-sim <- harness)",
    ]);
  });

  it("finds no violation in this repository", () => {
    const r = checkTree(join(import.meta.dirname, "../.."));
    expect(r.files).toBeGreaterThan(400);
    expect(r.violations.map(formatViolation)).toEqual([]);
  });
});
