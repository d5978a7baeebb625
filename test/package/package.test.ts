// The packed package works from plain Node: `npm pack` (prepack builds dist/), the tarball
// installed offline in a temp folder, the README's library example run from a plain .mjs
// file, and a TypeScript user of the three entry points type-checked with tsc.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/** The first ```js block of the README's library section. */
function readmeLibraryExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Using netlab as a library"));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error("README has no ```js block in its library section");
  return m[1]!;
}

const TS_USER = `
import { createVirtualClock, createRng, createPointToPointLink, createStack, settle, unwrap, wire,
  type Stack, type TcpInfo, type TcpStream, type VirtualClock } from "netlab";
import { createHypervisor } from "netlab/xen-sim";
import { withClockPump, runCli, type CaptureFile } from "netlab/harness";

const clock: VirtualClock = createVirtualClock();
const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: 0x020000000001 }, b: { mac: 0x020000000002 } });
const a: Stack = createStack({ device: link.a, clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.1/24" } });
const stream: TcpStream = unwrap(a.tcp.connect(0xc0000202, 80));
const info: TcpInfo = stream.info();
const cwnd: number = info.cwnd;
// @ts-expect-error connect() takes a numeric address
a.tcp.connect("192.0.2.2", 80);
const parsed = wire.parseEthernet(new Uint8Array(14));
const done: Promise<number> = settle(clock, Promise.resolve(cwnd));
const pumped: Promise<number> = withClockPump(clock, done);
export { createHypervisor, runCli, parsed, pumped };
export type { CaptureFile };
`;

describe("the packed package", () => {
  let dir = "";
  let app = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "netlab-pack-"));
    const pack = spawnSync("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: ROOT, encoding: "utf8", timeout: 150_000 });
    if (pack.status !== 0) throw new Error(`npm pack (which builds with tsc -p tsconfig.build.json) failed:\n${pack.stdout}\n${pack.stderr}`);
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    if (tarball === undefined) throw new Error("npm pack made no tarball");
    app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "netlab-user", private: true, type: "module" }));
    // offline: the package must need nothing from the registry
    execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--silent", join(dir, tarball)], {
      cwd: app,
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
    });
  }, 240_000);
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("ships compiled JavaScript, declarations and the bin, and no TypeScript sources or tests", () => {
    const pkg = join(app, "node_modules/netlab");
    const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { dependencies?: object };
    expect(manifest.dependencies).toBeUndefined();
    for (const f of [
      "dist/stack/index.js",
      "dist/stack/index.d.ts",
      "dist/xen-sim/index.js",
      "dist/harness/index.js",
      "dist/harness/cli/main.js",
      "dist/build.json",
      "bin/netlab.mjs",
    ]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    expect(existsSync(join(pkg, "stack"))).toBe(false);
    const listing = execFileSync("find", [pkg, "-name", "*.test.*", "-o", "-name", "*.ts", "-not", "-name", "*.d.ts"], { encoding: "utf8" });
    expect(listing.trim()).toBe("");
    // declarations import declarations: no relative `.ts` specifier left in any .d.ts
    const declarations = (readdirSync(join(pkg, "dist"), { recursive: true }) as string[]).filter((f) => f.endsWith(".d.ts"));
    expect(declarations.length).toBeGreaterThan(100);
    const stale = declarations.filter((f) => /(from|import\() *"\.{1,2}\/[^"]*\.ts"/.test(readFileSync(join(pkg, "dist", f), "utf8")));
    expect(stale).toEqual([]);
  });

  it("runs the README's library example from a plain .mjs file", () => {
    writeFileSync(join(app, "example.mjs"), readmeLibraryExample());
    const out = execFileSync(process.execPath, ["example.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 });
    expect(out).toMatch(/^ping: rtt \d+\.\d ms$/m);
    expect(out).toMatch(/^tcp: 1048576 bytes in [\d.]+ virtual s, sha256 ok [0-9a-f]{64}$/m);
    expect(out).toMatch(/^tcp info: state [A-Z0-9-]+, cwnd \d+, srtt [\d.]+ ms, retransmits \d+$/m);
    const capture = readFileSync(join(app, "out/library-example.pcapng"));
    expect(capture.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(out).toContain(`capture: ${capture.length} bytes`);
  });

  it("type-checks a TypeScript user of netlab, netlab/xen-sim and netlab/harness", () => {
    writeFileSync(join(app, "user.ts"), TS_USER);
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          // skipLibCheck: checking @types/node and every declaration file triples the time; the
          // user's code is still checked against netlab's declarations (the .d.ts scan above
          // makes sure they resolve, and @ts-expect-error below that they are not `any`)
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: true,
          typeRoots: [join(ROOT, "node_modules/@types")],
          types: ["node"],
        },
        files: ["user.ts"],
      }),
    );
    let output = "";
    try {
      execFileSync(process.execPath, [TSC, "-p", app], { cwd: app, encoding: "utf8", timeout: 120_000 });
    } catch (e) {
      output = `${(e as { stdout?: string }).stdout ?? ""}${(e as Error).message}`;
    }
    expect(output).toBe("");
  });

  it("runs the compiled CLI through the package's bin", () => {
    const out = execFileSync(join(app, "node_modules/.bin/netlab"), ["sim", "transfer", "--bytes", "65536", "--json"], {
      cwd: app,
      encoding: "utf8",
      timeout: 60_000,
    });
    const report = JSON.parse(out) as { start: { version: string }; end: unknown };
    expect(report.end).toMatchObject({ ok: true, sha256Match: true });
    // start.version is read from the installed package.json (the compiled layout)
    expect(report.start.version).toMatch(/^\d+\.\d+\.\d+/);
    // the lab's example topologies ship with the package
    const labs = JSON.parse(
      execFileSync(join(app, "node_modules/.bin/netlab"), ["lab", "list", "--json"], { cwd: app, encoding: "utf8", timeout: 60_000 }),
    ) as unknown;
    expect(JSON.stringify(labs)).toContain("dumbbell-fq-codel");
  });
});
