import { describe, expect, it } from "vitest";
import { fieldsWithoutUnit, runStart, withUnits } from "./json.ts";

describe("the units rule (harness/report/json.ts)", () => {
  it("fieldsWithoutUnit() names quantities without a unit in their name or in units, at any depth, and passes counts", () => {
    const body = {
      bytes: 5,
      wallSeconds: 1,
      rttMs: 2,
      retransmits: 3,
      timeouts: 1,
      a: [{ delay: 4, size: 1, leakedPages: 0 }],
      nested: { goodputBitsPerSecond: 1, rate: 9 },
    };
    expect(fieldsWithoutUnit(body, {})).toEqual(["delay", "size", "rate"]); // "bytes" is named by its unit
    expect(fieldsWithoutUnit(body, { bytes: "B", delay: "ms", size: "B", rate: "bit/s" })).toEqual([]);
  });
  it("withUnits() puts units after the body, and runStart() gives version, command line and timestamps", () => {
    expect(Object.keys(withUnits({ a: 1, b: 2 }, { a: "B" }))).toEqual(["a", "b", "units"]);
    const at = new Date("2026-12-07T12:00:00.500Z");
    expect(runStart("sim transfer", ["--bytes", "1M"], at, 0)).toMatchObject({
      command: "sim transfer",
      args: ["--bytes", "1M"],
      timestamp: { wall: "2026-12-07T12:00:00.500Z", wallEpochSeconds: 1796644800, virtualOriginSeconds: 0 },
    });
    expect(runStart("x", [], at, null).version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
