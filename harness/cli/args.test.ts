import { describe, expect, it } from "vitest";
import { NetlabError } from "../../stack/error.ts";
import {
  choice,
  flagValue,
  formatCliError,
  helpText,
  parseCommandLine,
  parseDuration,
  parseInteger,
  parseIpv4Address,
  parseIpv4Cidr,
  parseMacAddress,
  parseNumber,
  parseProbability,
  parseRate,
  parseSeed,
  parseSize,
  UsageError,
  type ValueResult,
} from "./args.ts";

type Row = readonly [string, number | string];
/** Checks a validator against a table: a number is the value expected, a string the error code. */
function table(name: string, parse: (t: string) => ValueResult<unknown>, rows: readonly Row[]): void {
  describe(name, () => {
    it.each(rows)("%s -> %s", (text, expected) => {
      const r = parse(text);
      if (typeof expected === "number") expect(r).toEqual({ ok: true, value: expected });
      else {
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.error).toBe(expected);
          expect(r.detail).toContain(text);
        }
      }
    });
  });
}

table("parseSize() reads k/M/G/T as decimal and Ki/Mi/Gi/Ti as binary", (t) => parseSize(t), [
  ["0", 0],
  ["1500", 1500],
  ["64k", 64_000],
  ["64K", 64_000],
  ["64Ki", 65_536],
  ["10M", 10_000_000],
  ["10m", 10_000_000],
  ["1.5K", 1500],
  ["1.5Ki", 1536],
  ["2G", 2e9],
  ["2Gi", 2 ** 31],
  ["1T", 1e12],
  ["1Ti", 2 ** 40],
  ["", "bad-value"],
  ["-1", "bad-value"],
  ["1.5", "bad-value"],
  ["1e6", "bad-value"],
  ["10MB", "bad-value"],
  ["0x10", "bad-value"],
  ["12 k", "bad-value"],
  ["1.0001K", "bad-value"],
  ["9007199254740993", "out-of-range"],
  ["10000T", "out-of-range"],
]);

table("parseSize() checks its bounds", (t) => parseSize(t, 536, 2 ** 30), [
  ["536", 536],
  ["1Gi", 2 ** 30],
  ["535", "out-of-range"],
  ["2Gi", "out-of-range"],
]);

table("parseRate() uses the size suffixes for bits per second", (t) => parseRate(t), [
  ["100M", 1e8],
  ["1G", 1e9],
  ["0", 0],
  ["1Gi", 2 ** 30],
  ["fast", "bad-value"],
]);

table("parseProbability() takes fractions and percentages", parseProbability, [
  ["0", 0],
  ["1", 1],
  ["0.05", 0.05],
  [".5", 0.5],
  ["5%", 0.05],
  ["100%", 1],
  ["0%", 0],
  ["1.5", "out-of-range"],
  ["101%", "out-of-range"],
  ["-0.1", "bad-value"],
  ["5%%", "bad-value"],
  ["", "bad-value"],
  ["NaN", "bad-value"],
  ["Infinity", "bad-value"],
]);

table("parseDuration() reads a bare number in the flag's unit and us/ms/s/min/h", (t) => parseDuration(t, "ms"), [
  ["10", 10],
  ["0", 0],
  ["2.5", 2.5],
  ["250ms", 250],
  ["1.5s", 1500],
  ["2min", 120_000],
  ["1h", 3_600_000],
  ["500us", 0.5],
  ["-1", "bad-value"],
  ["10 ms", "bad-value"],
  ["1d", "bad-value"],
  ["ms", "bad-value"],
  ["1e3", "bad-value"],
]);

table("parseDuration() of a seconds flag, with bounds", (t) => parseDuration(t, "s", 1, 86_400_000), [
  ["40", 40_000],
  ["0.5s", 500],
  ["1ms", 1],
  ["0", "out-of-range"],
  ["2h", 7_200_000],
  ["25h", "out-of-range"],
]);

table("parseInteger() refuses fractions and unsafe integers", (t) => parseInteger(t), [
  ["0", 0],
  ["42", 42],
  ["-7", -7],
  ["0x10", 16],
  ["0XfF", 255],
  ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ["9007199254740992", "out-of-range"],
  ["-9007199254740992", "out-of-range"],
  ["1.0", "bad-value"],
  ["1e3", "bad-value"],
  ["", "bad-value"],
  [" 1", "bad-value"],
  ["1_000", "bad-value"],
]);

table("parseInteger() checks its range", (t) => parseInteger(t, 576, 65535), [
  ["576", 576],
  ["65535", 65535],
  ["575", "out-of-range"],
  ["65536", "out-of-range"],
]);

table("parseNumber() takes finite decimals", (t) => parseNumber(t, 0), [
  ["0", 0],
  ["0.25", 0.25],
  ["12", 12],
  ["-1", "out-of-range"],
  ["Infinity", "bad-value"],
  ["1e3", "bad-value"],
  ["abc", "bad-value"],
]);

table("parseSeed() takes the Rng's whole 32-bit range and refuses the rest", parseSeed, [
  ["0", 0],
  ["1", 1],
  ["4294967295", 4294967295],
  ["0xffffffff", 4294967295],
  ["123456789", 123456789],
  ["4294967296", "out-of-range"],
  ["-1", "out-of-range"],
  ["99999999999999999999", "out-of-range"],
  ["1.5", "bad-value"],
  ["seed", "bad-value"],
]);

table("parseIpv4Address() takes dotted quads", parseIpv4Address, [
  ["192.0.2.1", 0xc0000201],
  ["0.0.0.0", 0],
  ["255.255.255.255", 0xffffffff],
  ["256.0.0.1", "bad-value"],
  ["192.0.2", "bad-value"],
  ["01.2.3.4", "bad-value"],
  ["::1", "bad-value"],
]);

describe("parseIpv4Cidr() and parseMacAddress()", () => {
  it("parseIpv4Cidr() reads ADDRESS/PREFIX and refuses a prefix over 32", () => {
    expect(parseIpv4Cidr("10.0.0.2/24")).toEqual({ ok: true, value: { address: 0x0a000002, prefixLength: 24 } });
    expect(parseIpv4Cidr("10.0.0.2/33")).toMatchObject({ ok: false, error: "bad-value" });
    expect(parseIpv4Cidr("10.0.0.2")).toMatchObject({ ok: false, error: "bad-value" });
  });
  it("parseMacAddress() reads colon or dash notation", () => {
    expect(parseMacAddress("02:00:00:00:00:01")).toEqual({ ok: true, value: 0x020000000001 });
    expect(parseMacAddress("02-00-00-00-00-0a")).toEqual({ ok: true, value: 0x02000000000a });
    expect(parseMacAddress("02:00:00:00:00")).toMatchObject({ ok: false, error: "bad-value" });
  });
  it("choice() accepts only its words", () => {
    const cc = choice("cubic", "newreno");
    expect(cc("cubic")).toEqual({ ok: true, value: "cubic" });
    expect(cc("bbr")).toMatchObject({ ok: false, error: "bad-value", detail: "needs one of cubic, newreno, got 'bbr'" });
  });
});

describe("parseCommandLine()", () => {
  const spec = {
    command: "sim example",
    usage: "usage: netlab sim example --bytes N [--json]",
    options: { bytes: { type: "string" }, json: { type: "boolean" } },
    required: ["bytes"],
  } as const;
  const usage = (argv: string[]): string => {
    try {
      parseCommandLine(spec, argv);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toBeInstanceOf(NetlabError);
      expect((e as UsageError).code).toBe("ERR_USAGE");
      expect((e as UsageError).command).toBe("sim example");
      return (e as Error).message;
    }
    throw new Error(`no usage error for ${argv.join(" ")}`);
  };
  it("accepts --flag value and --flag=value alike", () => {
    expect(parseCommandLine(spec, ["--bytes", "10M", "--json"]).values).toEqual({ bytes: "10M", json: true });
    expect(parseCommandLine(spec, ["--bytes=10M"]).values).toEqual({ bytes: "10M" });
    expect(parseCommandLine(spec, ["--bytes=-1"]).values).toEqual({ bytes: "-1" });
  });
  it("refuses unknown options, missing values, values on booleans, positionals and absent required flags, in one clause", () => {
    expect(usage(["--bytes", "1", "--bogus"])).toBe("unknown option '--bogus'");
    expect(usage(["--bytes"])).toBe("--bytes needs a value");
    expect(usage(["--bytes", "1", "--json=yes"])).toBe("--json takes no value");
    expect(usage(["--bytes", "1", "extra"])).toBe("unexpected argument 'extra'");
    expect(usage(["--json"])).toBe("--bytes is required");
    expect(usage(["--bytes", "--json"])).toMatch(/^--bytes needs a value/);
  });
  it("reports --help and -h without checking required flags", () => {
    expect(parseCommandLine(spec, ["--help"]).help).toBe(true);
    expect(parseCommandLine(spec, ["-h"]).help).toBe(true);
    expect(parseCommandLine(spec, ["--bytes", "1"]).help).toBe(false);
    expect(helpText(spec)).toMatch(/^usage: netlab sim example --bytes N \[--json\]\nvalues: sizes in bytes/);
  });
  it("enforces the positional count", () => {
    const withFiles = { command: "drill", usage: "u", options: {}, positionals: { min: 1, max: Infinity, name: "FILE" } } as const;
    expect(parseCommandLine(withFiles, ["a.pkt", "b.pkt"]).positionals).toEqual(["a.pkt", "b.pkt"]);
    expect(() => parseCommandLine(withFiles, [])).toThrow("FILE is required");
  });
  it("flagValue() names the flag in the message", () => {
    expect(flagValue("sim x", "loss", "0.1", parseProbability)).toBe(0.1);
    expect(flagValue("sim x", "loss", undefined, parseProbability)).toBeUndefined();
    expect(() => flagValue("sim x", "loss", "2", parseProbability)).toThrow("--loss needs a probability in [0, 1] or 0%..100%, got '2'");
  });
});

describe("formatCliError()", () => {
  it("prints one line with the code, the usage error's own command and a pointer to its --help", () => {
    expect(formatCliError("sim", new UsageError("sim transfer", "--bytes is required"))).toBe(
      "netlab sim transfer: [ERR_USAGE] --bytes is required (see 'netlab sim transfer --help')",
    );
    expect(formatCliError("attach", new NetlabError("TAP_PERMISSION", "opening /dev/net/tun:\n  permission denied"))).toBe(
      "netlab attach: [TAP_PERMISSION] opening /dev/net/tun:; permission denied",
    );
    expect(formatCliError("demo", Object.assign(new Error("no such file"), { code: "ENOENT" }))).toBe("netlab demo: [ENOENT] no such file");
    expect(formatCliError("demo", new Error("boom"))).toBe("netlab demo: [ERR_UNEXPECTED] boom");
  });
});
