// packetdrill's `%{ ... }%` blocks without Python: a small parser and evaluator for the forms
// the published TCP scripts use over TCP_INFO. Statements are separated by newlines or `;`:
//   assert EXPR[, EXPR...]   the first expression must be non-zero; the others (Python's assert
//                            message) are evaluated and shown when it fails.
// Expressions: integer literals (decimal, 0x hex), `tcpi_*` names, True/False, parentheses,
// unary - + ! not, * / // % (integer division, floor), + -, comparisons < <= > >= == != (chained
// as in Python: `a <= x <= b`), && and, || or. No eval, no Function.
// A statement other than assert (print, import, if...) parses as `unsupported`: the targets skip
// the script naming it. Syntax errors are Errs with the offset in the block's source.
// TCP_INFO_FIELDS: struct tcp_info's fields by their Linux names, in the kernel's order.

import { err, ok, type Result } from "../../stack/result.ts";

/** An expression node. */
export type CodeExpr =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "field"; readonly name: string; readonly offset: number }
  | { readonly kind: "unary"; readonly op: "-" | "+" | "!"; readonly operand: CodeExpr }
  | { readonly kind: "binary"; readonly op: "*" | "/" | "%" | "+" | "-" | "&&" | "||"; readonly left: CodeExpr; readonly right: CodeExpr }
  /** `a < b <= c`: every adjacent pair must hold. */
  | { readonly kind: "compare"; readonly operands: readonly CodeExpr[]; readonly ops: readonly CompareOp[] };

export type CompareOp = "<" | "<=" | ">" | ">=" | "==" | "!=";

/** One `assert` statement: its condition, the extra expressions, and its text. */
export interface CodeAssert {
  readonly condition: CodeExpr;
  readonly extras: readonly CodeExpr[];
  readonly text: string;
  readonly offset: number;
}

/** A parsed block. `unsupported` names the first statement the runner cannot execute. */
export interface CodeProgram {
  readonly asserts: readonly CodeAssert[];
  readonly unsupported?: { readonly text: string; readonly offset: number };
}

/** A syntax error at `offset` in the block's source. */
export interface CodeSyntaxError {
  readonly offset: number;
  readonly message: string;
}

/** struct tcp_info (include/uapi/linux/tcp.h) field names, in order. */
export const TCP_INFO_FIELDS: readonly string[] = [
  "tcpi_state",
  "tcpi_ca_state",
  "tcpi_retransmits",
  "tcpi_probes",
  "tcpi_backoff",
  "tcpi_options",
  "tcpi_snd_wscale",
  "tcpi_rcv_wscale",
  "tcpi_delivery_rate_app_limited",
  "tcpi_fastopen_client_fail",
  "tcpi_rto",
  "tcpi_ato",
  "tcpi_snd_mss",
  "tcpi_rcv_mss",
  "tcpi_unacked",
  "tcpi_sacked",
  "tcpi_lost",
  "tcpi_retrans",
  "tcpi_fackets",
  "tcpi_last_data_sent",
  "tcpi_last_ack_sent",
  "tcpi_last_data_recv",
  "tcpi_last_ack_recv",
  "tcpi_pmtu",
  "tcpi_rcv_ssthresh",
  "tcpi_rtt",
  "tcpi_rttvar",
  "tcpi_snd_ssthresh",
  "tcpi_snd_cwnd",
  "tcpi_advmss",
  "tcpi_reordering",
  "tcpi_rcv_rtt",
  "tcpi_rcv_space",
  "tcpi_total_retrans",
  "tcpi_pacing_rate",
  "tcpi_max_pacing_rate",
  "tcpi_bytes_acked",
  "tcpi_bytes_received",
  "tcpi_segs_out",
  "tcpi_segs_in",
  "tcpi_notsent_bytes",
  "tcpi_min_rtt",
  "tcpi_data_segs_in",
  "tcpi_data_segs_out",
  "tcpi_delivery_rate",
  "tcpi_busy_time",
  "tcpi_rwnd_limited",
  "tcpi_sndbuf_limited",
  "tcpi_delivered",
  "tcpi_delivered_ce",
  "tcpi_bytes_sent",
  "tcpi_bytes_retrans",
  "tcpi_dsack_dups",
  "tcpi_reord_seen",
  "tcpi_rcv_ooopack",
  "tcpi_snd_wnd",
];

const MAX_DEPTH = 64;
const MAX_SOURCE = 64 * 1024;

type Token =
  | { readonly kind: "num"; readonly value: number; readonly offset: number; readonly text: string }
  | { readonly kind: "name"; readonly value: string; readonly offset: number; readonly text: string }
  | { readonly kind: "op"; readonly value: string; readonly offset: number; readonly text: string }
  | { readonly kind: "end"; readonly offset: number; readonly text: string };

const OPERATORS = ["//", "<=", ">=", "==", "!=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", ","];

class SyntaxFail {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function tokenize(line: string, base: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") break; // a Python comment runs to the end of the line
    const num = /^(?:0[xX][0-9a-fA-F]+|\d+)/.exec(line.slice(i, i + 40));
    if (num) {
      if (/^[A-Za-z_]/.test(line.slice(i + num[0].length))) throw new SyntaxFail(base + i, `bad number '${line.slice(i).split(/[^\w]/)[0]}'`);
      out.push({ kind: "num", value: Number(num[0]), offset: base + i, text: num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i, i + 128));
    if (word) {
      out.push({ kind: "name", value: word[0], offset: base + i, text: word[0] });
      i += word[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => line.startsWith(o, i));
    if (op === undefined) throw new SyntaxFail(base + i, `unexpected character '${c}'`);
    out.push({ kind: "op", value: op, offset: base + i, text: op });
    i += op.length;
  }
  out.push({ kind: "end", offset: base + line.length, text: "end of statement" });
  return out;
}

class ExprParser {
  #k = 0;
  constructor(readonly tokens: readonly Token[]) {}

  get #t(): Token {
    return this.tokens[this.#k]!;
  }

  #isOp(...ops: string[]): string | undefined {
    const t = this.#t;
    if (t.kind === "op" && ops.includes(t.value)) return t.value;
    if (t.kind === "name" && ops.includes(t.value)) return t.value; // and, or, not
    return undefined;
  }

  #fail(what: string): never {
    const t = this.#t;
    throw new SyntaxFail(t.offset, `expected ${what}, found ${t.kind === "end" ? t.text : `'${t.text}'`}`);
  }

  atEnd(): boolean {
    return this.#t.kind === "end";
  }

  comma(): boolean {
    if (this.#isOp(",") === undefined) return false;
    this.#k++;
    return true;
  }

  expectEnd(): void {
    if (!this.atEnd()) this.#fail("',' or the end of the statement");
  }

  expr(depth = 0): CodeExpr {
    if (depth > MAX_DEPTH) throw new SyntaxFail(this.#t.offset, "expression nested too deeply");
    let left = this.#and(depth);
    while (this.#isOp("||", "or") !== undefined) {
      this.#k++;
      left = { kind: "binary", op: "||", left, right: this.#and(depth) };
    }
    return left;
  }

  #and(depth: number): CodeExpr {
    let left = this.#not(depth);
    while (this.#isOp("&&", "and") !== undefined) {
      this.#k++;
      left = { kind: "binary", op: "&&", left, right: this.#not(depth) };
    }
    return left;
  }

  #not(depth: number): CodeExpr {
    if (this.#isOp("not") !== undefined) {
      this.#k++;
      return { kind: "unary", op: "!", operand: this.#not(depth + 1) };
    }
    return this.#compare(depth);
  }

  #compare(depth: number): CodeExpr {
    const first = this.#sum(depth);
    const operands = [first];
    const ops: CompareOp[] = [];
    for (;;) {
      const op = this.#isOp("<", "<=", ">", ">=", "==", "!=");
      if (op === undefined) break;
      this.#k++;
      ops.push(op as CompareOp);
      operands.push(this.#sum(depth));
    }
    return ops.length === 0 ? first : { kind: "compare", operands, ops };
  }

  #sum(depth: number): CodeExpr {
    let left = this.#product(depth);
    for (;;) {
      const op = this.#isOp("+", "-");
      if (op === undefined) return left;
      this.#k++;
      left = { kind: "binary", op: op as "+" | "-", left, right: this.#product(depth) };
    }
  }

  #product(depth: number): CodeExpr {
    let left = this.#unary(depth);
    for (;;) {
      const op = this.#isOp("*", "/", "//", "%");
      if (op === undefined) return left;
      this.#k++;
      left = { kind: "binary", op: op === "//" ? "/" : (op as "*" | "/" | "%"), left, right: this.#unary(depth) };
    }
  }

  #unary(depth: number): CodeExpr {
    if (depth > MAX_DEPTH) throw new SyntaxFail(this.#t.offset, "expression nested too deeply");
    const op = this.#isOp("-", "+", "!");
    if (op !== undefined) {
      this.#k++;
      return { kind: "unary", op: op as "-" | "+" | "!", operand: this.#unary(depth + 1) };
    }
    return this.#primary(depth);
  }

  #primary(depth: number): CodeExpr {
    const t = this.#t;
    if (t.kind === "num") {
      this.#k++;
      return { kind: "number", value: t.value };
    }
    if (t.kind === "name" && !["and", "or", "not"].includes(t.value)) {
      this.#k++;
      if (t.value === "True") return { kind: "number", value: 1 };
      if (t.value === "False") return { kind: "number", value: 0 };
      if (this.#isOp("(") !== undefined) throw new SyntaxFail(t.offset, `function calls ('${t.value}(...)') are not supported in %{ }% expressions`);
      return { kind: "field", name: t.value, offset: t.offset };
    }
    if (this.#isOp("(") !== undefined) {
      this.#k++;
      const e = this.expr(depth + 1);
      if (this.#isOp(")") === undefined) this.#fail("')'");
      this.#k++;
      return e;
    }
    this.#fail("a number, a tcpi_* field or '('");
  }
}

/** Parses a block's source (the text between `%{` and `}%`). */
export function parseCodeBlock(source: string): Result<CodeProgram, CodeSyntaxError> {
  if (source.length > MAX_SOURCE) return err({ offset: 0, message: `code block is larger than ${MAX_SOURCE} characters` });
  const asserts: CodeAssert[] = [];
  let unsupported: CodeProgram["unsupported"];
  try {
    let base = 0;
    for (const line of source.split("\n")) {
      let start = 0;
      for (const stmt of splitStatements(line)) {
        const stmtStart = base + start;
        const offset = stmtStart + (stmt.length - stmt.trimStart().length);
        start += stmt.length + 1;
        const text = stmt.trim().replace(/\s*#.*$/, "");
        if (text === "") continue;
        const head = /^[A-Za-z_]\w*/.exec(text)?.[0];
        if (head !== "assert") {
          unsupported ??= { text, offset };
          continue;
        }
        const p = new ExprParser(tokenize(stmt, stmtStart).slice(1));
        const condition = p.expr();
        const extras: CodeExpr[] = [];
        while (p.comma()) extras.push(p.expr());
        p.expectEnd();
        asserts.push({ condition, extras, text, offset });
      }
      base += line.length + 1;
    }
  } catch (e) {
    if (e instanceof SyntaxFail) return err({ offset: e.offset, message: e.message });
    throw e;
  }
  return ok(unsupported === undefined ? { asserts } : { asserts, unsupported });
}

/** A line split at `;` (the block has no strings, so every `;` separates statements). */
function splitStatements(line: string): string[] {
  const hash = line.indexOf("#");
  const code = hash < 0 ? line : line.slice(0, hash);
  return code.split(";");
}

/** The field names an expression (or program) reads. */
export function fieldsOf(program: CodeProgram): string[] {
  const names = new Set<string>();
  const walk = (e: CodeExpr): void => {
    switch (e.kind) {
      case "field":
        names.add(e.name);
        break;
      case "unary":
        walk(e.operand);
        break;
      case "binary":
        walk(e.left);
        walk(e.right);
        break;
      case "compare":
        e.operands.forEach(walk);
        break;
      case "number":
        break;
    }
  };
  for (const a of program.asserts) {
    walk(a.condition);
    a.extras.forEach(walk);
  }
  return [...names];
}

/** Evaluates an expression; `lookup` returns undefined for a field it does not have. */
export function evaluate(e: CodeExpr, lookup: (name: string) => number | undefined): Result<number, string> {
  try {
    return ok(evalExpr(e, lookup));
  } catch (x) {
    if (x instanceof EvalFail) return err(x.message);
    throw x;
  }
}

class EvalFail {
  constructor(readonly message: string) {}
}

function evalExpr(e: CodeExpr, lookup: (name: string) => number | undefined): number {
  switch (e.kind) {
    case "number":
      return e.value;
    case "field": {
      const v = lookup(e.name);
      if (v === undefined) throw new EvalFail(`unknown field ${e.name}`);
      return v;
    }
    case "unary": {
      const v = evalExpr(e.operand, lookup);
      return e.op === "-" ? -v : e.op === "+" ? v : v === 0 ? 1 : 0;
    }
    case "binary": {
      if (e.op === "&&") return evalExpr(e.left, lookup) !== 0 && evalExpr(e.right, lookup) !== 0 ? 1 : 0;
      if (e.op === "||") return evalExpr(e.left, lookup) !== 0 || evalExpr(e.right, lookup) !== 0 ? 1 : 0;
      const a = evalExpr(e.left, lookup);
      const b = evalExpr(e.right, lookup);
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          if (b === 0) throw new EvalFail("division by zero");
          return Math.floor(a / b);
        case "%":
          if (b === 0) throw new EvalFail("modulo by zero");
          return a - b * Math.floor(a / b); // Python's sign rule
      }
      break;
    }
    case "compare": {
      let left = evalExpr(e.operands[0]!, lookup);
      for (let k = 0; k < e.ops.length; k++) {
        const right = evalExpr(e.operands[k + 1]!, lookup);
        if (!compare(e.ops[k]!, left, right)) return 0;
        left = right;
      }
      return 1;
    }
  }
  throw new EvalFail("bad expression");
}

function compare(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
  }
}

/** Runs a program's asserts; returns the first failure described (expression and values), or undefined. */
export function runAsserts(program: CodeProgram, lookup: (name: string) => number | undefined): string | undefined {
  for (const a of program.asserts) {
    const r = evaluate(a.condition, lookup);
    if (!r.ok) return `${a.text}: ${r.error}`;
    if (r.value !== 0) continue;
    const values = fieldsOf({ asserts: [a] }).map((n) => `${n}=${lookup(n) ?? "?"}`);
    const extras = a.extras.map((x) => {
      const v = evaluate(x, lookup);
      return v.ok ? String(v.value) : v.error;
    });
    return `assertion failed: ${a.text}${values.length > 0 ? ` (${values.join(", ")})` : ""}${extras.length > 0 ? `: ${extras.join(", ")}` : ""}`;
  }
  return undefined;
}

/** Why a block cannot run on a target that has `fields`, or undefined when it can. */
export function codeUnsupported(source: string, fields: readonly string[]): string | undefined {
  const p = parseCodeBlock(source);
  if (!p.ok) return `%{ }% block: ${p.error.message}`;
  if (p.value.unsupported !== undefined) return `%{ }% statement '${p.value.unsupported.text}' is not supported (only assert)`;
  const missing = fieldsOf(p.value).filter((n) => !fields.includes(n));
  if (missing.length > 0) return `%{ }% reads ${missing.join(", ")}, which this target does not have`;
  return undefined;
}
