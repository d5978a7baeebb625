import { describe, expect, it } from "vitest";
import { execFigures } from "./fuzz.ts";

describe("netlab fuzz tables", () => {
  it("execFigures() writes executions and exec/s with the shared SI formatter", () => {
    expect(execFigures(1_234_567, 700)).toEqual(["1.23M", "1.76k"]);
    expect(execFigures(42, 0)).toEqual(["42", "0"]);
    expect(execFigures(999_600, 1)).toEqual(["1.00M", "1.00M"]);
  });
});
