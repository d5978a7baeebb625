// The conventions every netlab command keeps (harness/cli/args.ts): --help exits 0 with the usage
// and the shared value rules on stdout; an unknown flag exits 2 with one usage-error line on
// stderr; --flag=value reaches the flag's validator; `netlab help CMD` is `CMD --help`.
import { afterEach, describe, expect, it, vi } from "vitest";
import { COMMAND_NAMES, main } from "./main.ts";

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "",
    stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

/** Every command line: its words, a flag with a good value, and one with a value its validator refuses. */
const COMMANDS: readonly { readonly words: readonly string[]; readonly good: readonly string[]; readonly bad: readonly string[]; readonly refusal: RegExp }[] =
  [
    { words: ["demo"], good: ["--seed=3"], bad: ["--seed=x"], refusal: /--seed needs a seed/ },
    { words: ["sim", "transfer"], good: ["--bytes=64Ki"], bad: ["--bytes=lots"], refusal: /--bytes needs bytes/ },
    { words: ["sim", "xen-transfer"], good: ["--bytes=1Mi"], bad: ["--bytes=1Mi", "--seed=-1"], refusal: /--seed needs a seed in 0\.\.4294967295/ },
    { words: ["sim", "blk"], good: ["--ops=5"], bad: ["--ops=1.5"], refusal: /--ops needs an integer/ },
    { words: ["sim", "dhcp"], good: ["--clients=3"], bad: ["--clients=0"], refusal: /--clients needs an integer in 1\.\.60000/ },
    { words: ["sim", "http"], good: ["--requests=3"], bad: ["--loss=100%"], refusal: /--loss needs a probability in \[0, 1\)/ },
    { words: ["sim", "http-hostile"], good: ["--attack=idle"], bad: ["--attack=flood"], refusal: /--attack needs one of idle, slowloris/ },
    { words: ["attach"], good: ["--tap=nl0", "--dhcp"], bad: ["--tap=nl0", "--dhcp", "--ping=192.0.2"], refusal: /--ping needs an IPv4 or IPv6 address/ },
    { words: ["replay"], good: ["--mode=decode"], bad: ["--mode=fast", "x.pcap"], refusal: /--mode needs one of decode, conversation, golden/ },
    { words: ["fuzz"], good: ["--time=5"], bad: ["--time=soon"], refusal: /--time needs a duration/ },
    { words: ["fuzz", "audit"], good: ["--time=5"], bad: ["--time=0"], refusal: /--time needs a duration >= 0\.001 s/ },
    { words: ["bench"], good: ["--suite=wire"], bad: ["--suite=nope"], refusal: /unknown suite\(s\) nope/ },
    { words: ["xenstored"], good: ["--socket=/tmp/x"], bad: ["--socket=/tmp/x", "--max-clients=0"], refusal: /--max-clients needs an integer >= 1/ },
    { words: ["drill"], good: ["--target=netlab"], bad: ["--target=bsd", "x.pkt"], refusal: /--target needs one of netlab, kernel, both/ },
    { words: ["lab", "run"], good: ["--seed=2"], bad: ["--seed=4294967296", "dumbbell-drop-tail"], refusal: /--seed needs a seed in 0\.\.4294967295/ },
  ];

describe("the CLI's conventions", () => {
  it("the table covers every command", () => {
    expect(new Set(COMMANDS.map((c) => c.words[0]))).toEqual(new Set(COMMAND_NAMES));
  });

  describe.each(COMMANDS)("netlab $words", ({ words, good, bad, refusal }) => {
    const name = words.join(" ");
    it("--help (and --flag=value before it) prints the usage and the value rules on stdout, exit 0", async () => {
      const r = await cli([...words, ...good, "--help"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: netlab ${name}`));
      expect(r.stdout).toContain("values: sizes in bytes, rates in bit/s: k/M/G/T decimal (10^3...), Ki/Mi/Gi/Ti binary (2^10...)");
      expect((await cli(["help", ...words])).stdout).toBe((await cli([...words, "--help"])).stdout);
    });

    it("an unknown flag exits 2 with one line naming it", async () => {
      const r = await cli([...words, ...good, "--bogus"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`netlab ${name}: [ERR_USAGE] unknown option '--bogus' (see 'netlab ${name} --help')\n`);
    });

    it("--flag=value reaches the flag's validator: a refused value exits 2 with one line", async () => {
      const r = await cli([...words, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.split("\n")).toHaveLength(2);
      expect(r.stderr).toMatch(new RegExp(`^netlab ${name}: \\[ERR_USAGE\\] `));
      expect(r.stderr).toMatch(refusal);
    });
  });

  it("netlab --version prints the package version; netlab help lists every command; no command exits 2", async () => {
    expect(await cli(["--version"])).toEqual({ code: 0, stdout: "netlab 0.1.0\n", stderr: "" });
    const help = await cli(["help"]);
    expect(help.code).toBe(0);
    for (const n of COMMAND_NAMES) expect(help.stdout).toMatch(new RegExp(`^  ${n} `, "m"));
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("usage: netlab <command>");
    expect(await cli(["frobnicate"])).toEqual({ code: 2, stdout: "", stderr: "netlab: [ERR_USAGE] unknown command 'frobnicate' (try 'netlab help')\n" });
  });

  it("flags marked required are required", async () => {
    for (const [argv, flag] of [
      [["sim", "transfer"], "--bytes"],
      [["sim", "xen-transfer", "--gso"], "--bytes"],
      [["sim", "http-hostile"], "--attack"],
      [["attach", "--dhcp"], "--tap"],
      [["xenstored"], "--socket"],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`\\[ERR_USAGE\\] ${flag} is required`));
    }
  });

  it("errors other than usage errors print as one line with their code and exit 1", async () => {
    const r = await cli(["xenstored", "--socket=/nonexistent-netlab-dir/xs.sock"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netlab xenstored: \[ERR_XENSTORED_LISTEN\] [^\n]*directory \/nonexistent-netlab-dir does not exist[^\n]*\n$/);
  });
});
