import { describe, expect, it } from "vitest";
import { withoutStacks } from "./oracles.ts";

describe("withoutStacks", () => {
  it("runs without error stacks, and a failing run again with them: the error thrown has its stack", () => {
    const limit = Error.stackTraceLimit;
    const seen: string[] = [];
    withoutStacks(() => {
      seen.push(new Error("value").stack ?? "");
    });
    expect(seen[0]).toBe("Error: value");
    let runs = 0;
    let thrown: unknown;
    try {
      withoutStacks(() => {
        runs++;
        throw new Error(`finding ${runs}`);
      });
    } catch (e) {
      thrown = e;
    }
    expect(runs).toBe(2);
    expect((thrown as Error).message).toBe("finding 2");
    expect((thrown as Error).stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it("throws the first error when the second run passes", () => {
    let runs = 0;
    expect(() =>
      withoutStacks(() => {
        if (++runs === 1) throw new Error("only once");
      }),
    ).toThrow("only once");
    expect(runs).toBe(2);
  });
});
