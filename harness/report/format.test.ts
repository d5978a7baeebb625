import { describe, expect, it } from "vitest";
import { formatBinary, formatSi } from "./format.ts";

describe("formatSi()", () => {
  it("prefixes a base unit and keeps three significant digits", () => {
    expect(formatSi(1_234_567_890, "bit/s")).toBe("1.23 Gbit/s");
    expect(formatSi(456_000, "B")).toBe("456 kB");
    expect(formatSi(12_345, "B")).toBe("12.3 kB");
    expect(formatSi(1e6, "bit/s")).toBe("1.00 Mbit/s");
  });
  it("puts the prefix on the number for other units, and alone without a unit", () => {
    expect(formatSi(1760, "exec/s")).toBe("1.76k exec/s");
    expect(formatSi(2000)).toBe("2.00k");
    expect(formatSi(2.5, "Gbit/s")).toBe("2.50 Gbit/s");
  });
  it("shows 0 and integers below 1000 whole", () => {
    expect(formatSi(0, "B")).toBe("0 B");
    expect(formatSi(0)).toBe("0");
    expect(formatSi(-0, "B")).toBe("0 B");
    expect(formatSi(5, "pkt/s")).toBe("5 pkt/s");
    expect(formatSi(999, "B")).toBe("999 B");
  });
  it("carries a rounding into the next prefix (999.5 is 1.00k, 999,500 is 1.00M)", () => {
    expect(formatSi(999.5)).toBe("1.00k");
    expect(formatSi(999.4)).toBe("999");
    expect(formatSi(999_500, "B")).toBe("1.00 MB");
    expect(formatSi(999_499, "B")).toBe("999 kB");
  });
  it("keeps the sign of negative values", () => {
    expect(formatSi(-1234, "B")).toBe("-1.23 kB");
    expect(formatSi(-7)).toBe("-7");
    expect(formatSi(-0.5)).toBe("-0.500");
  });
  it("gives fractions below 1 three significant digits without a prefix", () => {
    expect(formatSi(0.1234, "bit/s")).toBe("0.123 bit/s");
    expect(formatSi(1.5)).toBe("1.50");
  });
  it("prints NaN and infinities as such", () => {
    expect(formatSi(Number.NaN, "bit/s")).toBe("NaN bit/s");
    expect(formatSi(Number.POSITIVE_INFINITY, "B")).toBe("∞ B");
    expect(formatSi(Number.NEGATIVE_INFINITY)).toBe("-∞");
  });
  it("goes up to Q (10^30) and writes an exponent beyond", () => {
    expect(formatSi(1.5e18, "B")).toBe("1.50 EB");
    expect(formatSi(2e30, "B")).toBe("2.00 QB");
    expect(formatSi(1e33, "B")).toBe("1.00e+33 B");
    expect(formatSi(Number.MAX_VALUE)).toBe("1.80e+308");
  });
});

describe("formatBinary()", () => {
  it("uses powers of 1024 with Ki/Mi/Gi", () => {
    expect(formatBinary(65_536)).toBe("64.0 KiB");
    expect(formatBinary(2 ** 20)).toBe("1.00 MiB");
    expect(formatBinary(3 * 2 ** 30)).toBe("3.00 GiB");
    expect(formatBinary(1536)).toBe("1.50 KiB");
  });
  it("writes mantissas from 1000 to 1023 whole and carries 1023.99 Ki into Mi", () => {
    expect(formatBinary(1010 * 1024)).toBe("1010 KiB");
    expect(formatBinary(1000)).toBe("1000 B");
    expect(formatBinary(1023)).toBe("1023 B");
    expect(formatBinary(1024 * 1024 - 1)).toBe("1.00 MiB");
  });
  it("handles 0, negative values and non-finite values as formatSi does", () => {
    expect(formatBinary(0)).toBe("0 B");
    expect(formatBinary(-2048)).toBe("-2.00 KiB");
    expect(formatBinary(Number.NaN)).toBe("NaN B");
  });
});
