import { describe, expect, it } from "vitest";
import { codeUnsupported, evaluate, parseCodeBlock, runAsserts, type CodeProgram } from "./code-block.ts";
import { formatParseError, parseDrillScript } from "./parser.ts";

function program(source: string): CodeProgram {
  const r = parseCodeBlock(source);
  if (!r.ok) throw new Error(`${r.error.offset}: ${r.error.message}`);
  return r.value;
}

function value(expr: string, fields: Record<string, number> = {}): number {
  const p = program(`assert ${expr}`);
  const r = evaluate(p.asserts[0]!.condition, (n) => fields[n]);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe("%{ }% code blocks", () => {
  it("evaluates arithmetic with C precedence, hex literals and integer division", () => {
    expect(value("1 + 2 * 3")).toBe(7);
    expect(value("(1 + 2) * 3")).toBe(9);
    expect(value("0x10 - 1")).toBe(15);
    expect(value("7 / 2")).toBe(3);
    expect(value("7 // 2")).toBe(3);
    expect(value("-7 % 3")).toBe(2);
    expect(value("- -3")).toBe(3);
  });

  it("evaluates comparisons, chained comparisons and the logical operators in both spellings", () => {
    expect(value("tcpi_rto >= 200000 && tcpi_rto <= 300000", { tcpi_rto: 250000 })).toBe(1);
    expect(value("200000 <= tcpi_rto <= 300000", { tcpi_rto: 350000 })).toBe(0);
    expect(value("1 == 2 || !(3 != 3)")).toBe(1);
    expect(value("not 0 and 1")).toBe(1);
    expect(value("True or False")).toBe(1);
  });

  it("runAsserts() names the expression and the fields' values when an assert fails", () => {
    const p = program("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\nassert tcpi_state == 1");
    expect(runAsserts(p, (n) => ({ tcpi_snd_cwnd: 10, tcpi_state: 1 })[n])).toBeUndefined();
    expect(runAsserts(p, (n) => ({ tcpi_snd_cwnd: 7, tcpi_state: 1 })[n])).toBe(
      "assertion failed: assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd (tcpi_snd_cwnd=7): 7",
    );
  });

  it("splits statements at newlines and semicolons and ignores # comments", () => {
    expect(program("assert 1; assert 2 # two\n\n  assert 3").asserts.map((a) => a.text)).toEqual(["assert 1", "assert 2", "assert 3"]);
  });

  it("reports a syntax error at its offset in the block", () => {
    expect(parseCodeBlock("assert 1 +")).toEqual({
      ok: false,
      error: { offset: 10, message: "expected a number, a tcpi_* field or '(', found end of statement" },
    });
    const r = parseCodeBlock("assert 1\nassert (2 $ 3)");
    expect(r.ok ? -1 : r.error.offset).toBe(19);
  });

  it("marks statements other than assert and fields a target lacks as unsupported, naming them", () => {
    expect(codeUnsupported("print(tcpi_rto)", ["tcpi_rto"])).toMatch(/'print\(tcpi_rto\)' is not supported/);
    expect(codeUnsupported("assert tcpi_ca_state == 0", ["tcpi_rto"])).toMatch(/tcpi_ca_state/);
    expect(codeUnsupported("assert tcpi_rto > 0", ["tcpi_rto"])).toBeUndefined();
  });

  it("a syntax error in a script's block is a file:line:column parse error", () => {
    const r = parseDrillScript("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{\n  assert tcpi_rto >> 2\n}%\n", "x.pkt");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatParseError(r.error)).toBe("x.pkt:3:20: in %{ }%: expected a number, a tcpi_* field or '(', found '>'");
  });
});
