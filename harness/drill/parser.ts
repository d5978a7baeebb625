// The packetdrill script parser (github.com/google/packetdrill, gtests/net/): text -> DrillScript.
// Covers what the published TCP scripts use: packet lines (tcp, udp, icmp), event times
// (absolute, +relative, *, ranges, blocking `t...u`), system calls with their results and
// errnos, backtick shell lines, `%{ }%` code blocks, comments and `--name=value` option lines
// (also inside the header comments); `%{ }%` blocks are checked by code-block.ts. Malformed
// input is an Err with file:line:column, never a throw: scripts are untrusted text.

import { err, ok, type Result } from "../../stack/result.ts";
import { parseCodeBlock } from "./code-block.ts";
import type {
  DrillEvent,
  DrillEventBody,
  DrillPacket,
  DrillParseError,
  DrillScript,
  DrillSyscall,
  DrillTcpOption,
  DrillTcpPacket,
  DrillValue,
  EventTime,
  SourcePos,
} from "./model.ts";

/** Parses a packetdrill script; `file` names it in positions and errors. */
export function parseDrillScript(text: string, file: string): Result<DrillScript, DrillParseError> {
  const parser = new Parser(text, file);
  try {
    return ok(parser.script());
  } catch (e) {
    if (e instanceof ParseFail) return err({ pos: e.pos, message: e.message });
    throw e;
  }
}

/** Formats a parse error the way compilers do: `file:line:column: message`. */
export function formatParseError(e: DrillParseError): string {
  return `${e.pos.file}:${e.pos.line}:${e.pos.column}: ${e.message}`;
}

class ParseFail {
  constructor(
    readonly pos: SourcePos,
    readonly message: string,
  ) {}
}

const FLAG_CHARS = "SFRP.EWU-";
const MAX_SCRIPT_CHARS = 4 * 1024 * 1024;

class Parser {
  #i = 0;
  readonly #src: string;
  readonly #file: string;
  readonly #lineStarts: number[] = [0];
  readonly #options = new Map<string, string>();
  readonly #events: DrillEvent[] = [];

  constructor(text: string, file: string) {
    this.#src = text;
    this.#file = file;
    for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === 10) this.#lineStarts.push(k + 1);
  }

  script(): DrillScript {
    if (this.#src.length > MAX_SCRIPT_CHARS) this.#fail(0, `script is larger than ${MAX_SCRIPT_CHARS} characters`);
    for (;;) {
      this.#skipSpace(true, this.#events.length === 0);
      if (this.#eof()) break;
      this.#statement();
    }
    return { file: this.#file, options: this.#options, events: this.#events };
  }

  // ---- positions and errors

  #pos(offset: number): SourcePos {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.#file, line: lo + 1, column: offset - (this.#lineStarts[lo] ?? 0) + 1 };
  }

  #fail(offset: number, message: string): never {
    throw new ParseFail(this.#pos(offset), message);
  }

  #eof(): boolean {
    return this.#i >= this.#src.length;
  }

  #peek(k = 0): string {
    return this.#src[this.#i + k] ?? "";
  }

  #describeHere(): string {
    if (this.#eof()) return "end of file";
    const c = this.#peek();
    if (c === "\n") return "end of line";
    const word = /^[A-Za-z0-9_.]+/.exec(this.#src.slice(this.#i, this.#i + 40));
    return `'${word ? word[0] : c}'`;
  }

  #expected(what: string): never {
    this.#fail(this.#i, `expected ${what}, found ${this.#describeHere()}`);
  }

  // ---- whitespace and comments

  /** Skips blanks and comments; newlines too when `newlines`. Header comments feed options. */
  #skipSpace(newlines: boolean, header = false): void {
    for (;;) {
      const c = this.#peek();
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) {
        this.#i++;
      } else if (c === "/" && this.#peek(1) === "/") {
        const end = this.#src.indexOf("\n", this.#i);
        const stop = end < 0 ? this.#src.length : end;
        if (header) this.#optionsFromComment(this.#src.slice(this.#i + 2, stop));
        this.#i = stop;
      } else if (c === "/" && this.#peek(1) === "*") {
        const end = this.#src.indexOf("*/", this.#i + 2);
        if (end < 0) this.#fail(this.#i, "unterminated /* comment");
        if (header) this.#optionsFromComment(this.#src.slice(this.#i + 2, end));
        this.#i = end + 2;
      } else if (c === "\\" && this.#peek(1) === "\n") {
        this.#i += 2;
      } else {
        return;
      }
    }
  }

  #optionsFromComment(text: string): void {
    for (const m of text.matchAll(/(?:^|\s)--([A-Za-z][\w-]*)(?:=(\S*))?/g)) {
      this.#options.set((m[1] ?? "").replaceAll("-", "_"), m[2] ?? "");
    }
  }

  /** After a statement: only blanks and comments until the end of the line. */
  #endOfLine(): void {
    this.#skipSpace(false);
    if (this.#eof()) return;
    if (this.#peek() !== "\n") this.#fail(this.#i, `unexpected ${this.#describeHere()} at the end of the line`);
    this.#i++;
  }

  // ---- statements

  #statement(): void {
    const start = this.#i;
    const c = this.#peek();
    if (c === "-" && this.#peek(1) === "-") {
      this.#optionLine();
      return;
    }
    let time: EventTime = { kind: "relative", usecs: 0 };
    let hasTime = false;
    if (c !== "`" && !(c === "%" && this.#peek(1) === "{")) {
      time = this.#eventTime();
      hasTime = true;
      this.#skipSpace(false);
    }
    const bodyStart = this.#i;
    const body = this.#body(hasTime, time);
    const pos = this.#pos(hasTime ? start : bodyStart);
    this.#events.push({ pos, time, body });
    this.#endOfLine();
  }

  #optionLine(): void {
    const start = this.#i;
    this.#i += 2;
    const m = /^([A-Za-z][\w-]*)(?:=([^\s]*))?/.exec(this.#src.slice(this.#i, this.#i + 4096));
    if (!m) this.#fail(start, "expected an option name after '--'");
    this.#options.set((m[1] ?? "").replaceAll("-", "_"), m[2] ?? "");
    this.#i += m[0].length;
    this.#endOfLine();
  }

  #body(hasTime: boolean, time: EventTime): DrillEventBody {
    const c = this.#peek();
    if (c === "`") return { kind: "shell", command: this.#shell() };
    if (c === "%" && this.#peek(1) === "{") return { kind: "code", source: this.#code() };
    if (!hasTime) this.#expected("an event time");
    if (c === "<" || c === ">") return { kind: "packet", packet: this.#packet() };
    if (c === "." && this.#peek(1) === "." && this.#peek(2) === ".") {
      this.#i += 3;
      const endRelative = this.#peek() === "+";
      if (endRelative) this.#i++;
      const end = this.#time();
      this.#skipSpace(false);
      const relative = time.kind === "relative" || endRelative;
      return { kind: "syscall", call: this.#syscall({ relative, usecs: end }) };
    }
    if (/[A-Za-z_]/.test(c)) return { kind: "syscall", call: this.#syscall(undefined) };
    this.#expected("a packet ('<' or '>'), a system call, a `shell command` or a %{ }% block");
  }

  #shell(): string {
    const start = this.#i;
    const end = this.#src.indexOf("`", this.#i + 1);
    const nl = this.#src.indexOf("\n", this.#i + 1);
    if (end < 0 || (nl >= 0 && nl < end)) this.#fail(start, "unterminated `shell command` (a backtick line ends on its line)");
    this.#i = end + 1;
    return this.#src.slice(start + 1, end);
  }

  #code(): string {
    const start = this.#i;
    const end = this.#src.indexOf("}%", this.#i + 2);
    if (end < 0) this.#fail(start, "unterminated %{ code block (no closing }%)");
    this.#i = end + 2;
    const raw = this.#src.slice(start + 2, end);
    const source = raw.trim();
    const checked = parseCodeBlock(source);
    if (!checked.ok) this.#fail(start + 2 + (raw.length - raw.trimStart().length) + checked.error.offset, `in %{ }%: ${checked.error.message}`);
    return source;
  }

  // ---- times

  #eventTime(): EventTime {
    const start = this.#i;
    if (this.#peek() === "*") {
      this.#i++;
      return { kind: "any" };
    }
    const relative = this.#peek() === "+";
    if (relative) this.#i++;
    if (!/[0-9.]/.test(this.#peek()) || (this.#peek() === "." && this.#peek(1) === ".")) {
      this.#fail(start, `expected an event time (like 0.100, +0.1 or *), found ${this.#describeHere()}`);
    }
    const usecs = this.#time();
    if (this.#peek() === "~") {
      this.#i++;
      const endRelative = this.#peek() === "+";
      if (endRelative !== relative) this.#fail(this.#i, "a time range is either a~b or +a~+b");
      if (endRelative) this.#i++;
      const endUsecs = this.#time();
      if (endUsecs < usecs) this.#fail(start, "time range ends before it starts");
      return { kind: "range", relative, startUsecs: usecs, endUsecs };
    }
    return relative ? { kind: "relative", usecs } : { kind: "absolute", usecs };
  }

  /** Seconds with an optional fraction (`1`, `0.100`, `.1`) -> microseconds. */
  #time(): number {
    const m = /^(\d*)(?:\.(\d+))?/.exec(this.#src.slice(this.#i, this.#i + 64));
    const whole = m?.[1] ?? "";
    const frac = m?.[2];
    if (!m || (whole === "" && frac === undefined)) this.#expected("a time in seconds");
    if (whole.length > 9) this.#fail(this.#i, "time is out of range");
    // "1." followed by a non-digit is not consumed ("0...0.1": the dots belong to the ellipsis).
    this.#i += m[0].length;
    const f = (frac ?? "").slice(0, 6).padEnd(6, "0");
    return Number(whole || "0") * 1_000_000 + Number(f);
  }

  // ---- packets

  #packet(): DrillPacket {
    const direction = this.#peek() === "<" ? "inbound" : "outbound";
    this.#i++;
    this.#skipSpace(false);
    const ip: { ecn?: DrillTcpPacket["ecn"]; tos?: number; ttl?: number } = {};
    if (this.#peek() === "[" || this.#peek() === "(") this.#ipInfo(ip);
    const word = this.#peekWord();
    if (word === "udp") {
      this.#i += 3;
      this.#skipSpace(false);
      this.#punct("(", "'(' before the UDP payload length");
      const length = this.#uint("a UDP payload length", 65535);
      this.#punct(")", "')'");
      return { protocol: "udp", direction, length };
    }
    if (word === "icmp") {
      this.#i += 4;
      const nl = this.#src.indexOf("\n", this.#i);
      const stop = nl < 0 ? this.#src.length : nl;
      const rest = this.#src.slice(this.#i, stop).replace(/\/\/.*$/, "");
      this.#i += rest.length;
      const words = rest
        .trim()
        .split(/\s+/)
        .filter((w) => w !== "");
      if (words.length === 0) this.#fail(this.#i, "expected the ICMP type after 'icmp'");
      return { protocol: "icmp", direction, words };
    }
    return this.#tcp(direction, ip);
  }

  #ipInfo(ip: { ecn?: DrillTcpPacket["ecn"]; tos?: number; ttl?: number }): void {
    const open = this.#peek();
    const close = open === "[" ? "]" : ")";
    this.#i++;
    for (;;) {
      this.#skipSpace(false);
      if (this.#peek() === close) {
        this.#i++;
        break;
      }
      const at = this.#i;
      const w = this.#word("an IP field (noecn, ect0, ect1, ect01, ce, tos N, ttl N)");
      if (w === "noecn" || w === "ect0" || w === "ect1" || w === "ce" || w === "ect01") ip.ecn = w;
      else if (w === "tos") ip.tos = this.#uint("a tos value", 255);
      else if (w === "ttl") ip.ttl = this.#uint("a ttl value", 255);
      else if (w === "flowlabel" || w === "id") this.#uint(`a ${w} value`, 0xfffff);
      else this.#fail(at, `unknown IP field '${w}' (expected noecn, ect0, ect1, ect01, ce, tos, ttl)`);
      this.#skipSpace(false);
      if (this.#peek() === ",") this.#i++;
    }
    this.#skipSpace(false);
  }

  #tcp(direction: "inbound" | "outbound", ip: { ecn?: DrillTcpPacket["ecn"]; tos?: number; ttl?: number }): DrillTcpPacket {
    const flagsAt = this.#i;
    let flags = "";
    while (!this.#eof() && FLAG_CHARS.includes(this.#peek())) flags += this.#src[this.#i++];
    if (flags === "" || (flags.includes("-") && flags !== "-"))
      this.#fail(flagsAt, `expected TCP flags (S, S., ., P., F., R, R., -, with E/W), found ${this.#describeHere()}`);
    if (flags.includes(".") && flags.indexOf(".") !== flags.lastIndexOf(".")) this.#fail(flagsAt, `bad TCP flags '${flags}'`);
    const packet: { -readonly [K in keyof DrillTcpPacket]: DrillTcpPacket[K] } = { protocol: "tcp", direction, flags };
    if (ip.ecn !== undefined) packet.ecn = ip.ecn;
    if (ip.tos !== undefined) packet.tos = ip.tos;
    if (ip.ttl !== undefined) packet.ttl = ip.ttl;
    this.#skipSpace(false);
    if (/[0-9]/.test(this.#peek())) {
      const at = this.#i;
      const start = this.#uint("a sequence number", 0xffffffff);
      this.#punct(":", "':' in start:end(length)");
      const end = this.#uint("an end sequence number", 0xffffffff);
      this.#punct("(", "'(' in start:end(length)");
      const length = this.#uint("a payload length", 0xffffffff);
      this.#punct(")", "')' after the payload length");
      if ((end - start) >>> 0 !== length) this.#fail(at, `sequence range ${start}:${end} does not match its length (${length})`);
      packet.seq = { start, end, length };
    }
    for (;;) {
      this.#skipSpace(false);
      const at = this.#i;
      const w = this.#peekWord();
      if (w === "ack") {
        this.#i += 3;
        packet.ack = this.#uint("an ack number", 0xffffffff);
      } else if (w === "win") {
        this.#i += 3;
        packet.window = this.#uint("a window", 0xffff);
      } else if (w === "urg") {
        this.#i += 3;
        packet.urgent = this.#uint("an urgent pointer", 0xffff);
      } else if (this.#peek() === "<") {
        packet.options = this.#tcpOptions();
        break;
      } else if (this.#peek() === "\n" || this.#eof() || (this.#peek() === "/" && (this.#peek(1) === "/" || this.#peek(1) === "*"))) {
        break;
      } else {
        this.#fail(at, `unexpected ${this.#describeHere()} in a TCP packet (expected ack, win, urg or <options>)`);
      }
    }
    return packet;
  }

  #tcpOptions(): DrillTcpOption[] {
    this.#i++;
    this.#skipSpace(false);
    if (this.#src.startsWith("...", this.#i)) {
      this.#i += 3;
      this.#skipSpace(false);
      this.#punct(">", "'>' after '<...'");
      return [{ kind: "any" }];
    }
    const options: DrillTcpOption[] = [];
    if (this.#peek() === ">") {
      this.#i++;
      return options;
    }
    for (;;) {
      this.#skipSpace(false);
      const at = this.#i;
      const w = this.#word("a TCP option (mss, sackOK, sack, TS, nop, eol, wscale)");
      switch (w) {
        case "mss":
          options.push({ kind: "mss", value: this.#uint("an mss value", 0xffff) });
          break;
        case "wscale":
          options.push({ kind: "wscale", value: this.#uint("a wscale value", 255) });
          break;
        case "sackOK":
          options.push({ kind: "sackOK" });
          break;
        case "nop":
          options.push({ kind: "nop" });
          break;
        case "eol":
          options.push({ kind: "eol" });
          break;
        case "sack": {
          const blocks: Array<readonly [number, number]> = [];
          for (;;) {
            this.#skipSpace(false);
            if (!/[0-9]/.test(this.#peek())) break;
            const a = this.#uint("a SACK block start", 0xffffffff);
            this.#punct(":", "':' in a SACK block a:b");
            const b = this.#uint("a SACK block end", 0xffffffff);
            blocks.push([a, b]);
          }
          if (blocks.length === 0) this.#fail(this.#i, "expected SACK blocks (a:b) after 'sack'");
          options.push({ kind: "sack", blocks });
          break;
        }
        case "TS": {
          this.#keyword("val");
          const val = this.#uint("a TS val", 0xffffffff);
          this.#keyword("ecr");
          const ecr = this.#uint("a TS ecr", 0xffffffff);
          options.push({ kind: "TS", val, ecr });
          break;
        }
        default: {
          // Options the targets do not model (FO, FOEXP, md5, mpcapable, exp...) are kept as text.
          if (!/^[A-Za-z]/.test(w)) this.#fail(at, `unknown TCP option '${w}'`);
          let j = this.#i;
          while (j < this.#src.length && !",>\n".includes(this.#src[j] ?? "")) j++;
          if (this.#src[j] !== "," && this.#src[j] !== ">") this.#fail(at, "unterminated TCP option list (no closing '>')");
          options.push({ kind: "other", text: (w + this.#src.slice(this.#i, j)).trim() });
          this.#i = j;
        }
      }
      this.#skipSpace(false);
      if (this.#peek() === ",") {
        this.#i++;
        continue;
      }
      if (this.#peek() === ">") {
        this.#i++;
        return options;
      }
      this.#expected("',' or '>' in the TCP option list");
    }
  }

  // ---- system calls

  #syscall(blockingEnd: DrillSyscall["blockingEndUsecs"]): DrillSyscall {
    const name = this.#word("a system call name");
    this.#skipSpace(false);
    this.#punct("(", `'(' after '${name}'`);
    const args = this.#valueList(")");
    this.#skipSpace(false);
    this.#punct("=", `'=' and the expected result after ${name}(...)`);
    this.#skipSpace(false);
    let result: number | "ellipsis";
    if (this.#src.startsWith("...", this.#i)) {
      this.#i += 3;
      result = "ellipsis";
    } else {
      const negative = this.#peek() === "-";
      if (negative) this.#i++;
      const n = this.#number("the expected result (a number or ...)");
      result = negative ? -n : n;
    }
    const call: { -readonly [K in keyof DrillSyscall]: DrillSyscall[K] } = { name, args, result };
    if (blockingEnd !== undefined) call.blockingEndUsecs = blockingEnd;
    this.#skipSpace(false);
    if (/[A-Z]/.test(this.#peek())) {
      call.errno = this.#word("an errno name");
      this.#skipSpace(false);
    }
    if (this.#peek() === "(") {
      // The note: `(Resource temporarily unavailable)`, free text up to the matching ')'.
      let depth = 0;
      const at = this.#i;
      do {
        const ch = this.#peek();
        if (ch === "" || ch === "\n") this.#fail(at, "unterminated '(' note after the result");
        if (ch === "(") depth++;
        if (ch === ")") depth--;
        this.#i++;
      } while (depth > 0);
    }
    return call;
  }

  #valueList(close: string): DrillValue[] {
    return this.#listItems(close, -1);
  }

  #value(depth: number): DrillValue {
    if (depth > 64) this.#fail(this.#i, "expression nested too deeply");
    const first = this.#atom(depth);
    this.#skipSpace(true);
    if (this.#peek() !== "|" || this.#peek(1) === "|") return first;
    const items = [first];
    while (this.#peek() === "|") {
      this.#i++;
      this.#skipSpace(true);
      items.push(this.#atom(depth));
      this.#skipSpace(true);
    }
    return { kind: "or", items };
  }

  #atom(depth: number): DrillValue {
    this.#skipSpace(true);
    const c = this.#peek();
    if (this.#src.startsWith("...", this.#i)) {
      this.#i += 3;
      return { kind: "ellipsis" };
    }
    if (c === '"') return { kind: "string", value: this.#string() };
    if (c === "[") {
      this.#i++;
      return { kind: "list", items: this.#listItems("]", depth) };
    }
    if (c === "{") {
      this.#i++;
      return this.#struct(depth);
    }
    if (c === "-" || /[0-9]/.test(c)) {
      const negative = c === "-";
      if (negative) this.#i++;
      const n = this.#number("a number");
      return { kind: "number", value: negative ? -n : n };
    }
    if (/[A-Za-z_]/.test(c)) {
      const name = this.#word("a name");
      this.#skipSpace(false);
      if (this.#peek() === "(") {
        this.#i++;
        return { kind: "call", name, args: this.#listItems(")", depth) };
      }
      return { kind: "name", value: name };
    }
    this.#expected('a value (number, "string", NAME, ..., [list], {struct} or a|b)');
  }

  #listItems(close: string, depth: number): DrillValue[] {
    const items: DrillValue[] = [];
    this.#skipSpace(true);
    if (this.#peek() === close) {
      this.#i++;
      return items;
    }
    for (;;) {
      items.push(this.#value(depth + 1));
      this.#skipSpace(true);
      if (this.#peek() === ",") {
        this.#i++;
        continue;
      }
      if (this.#peek() === close) {
        this.#i++;
        return items;
      }
      this.#expected(`',' or '${close}'`);
    }
  }

  #struct(depth: number): DrillValue {
    const fields: Array<readonly [string, DrillValue]> = [];
    this.#skipSpace(true);
    if (this.#peek() === "}") {
      this.#i++;
      return { kind: "struct", fields };
    }
    for (;;) {
      this.#skipSpace(true);
      if (this.#src.startsWith("...", this.#i)) {
        this.#i += 3;
        fields.push(["...", { kind: "ellipsis" }]);
      } else {
        const name = this.#word("a struct field name");
        this.#skipSpace(true);
        this.#punct("=", `'=' after the field name '${name}'`);
        fields.push([name, this.#value(depth + 1)]);
      }
      this.#skipSpace(true);
      if (this.#peek() === ",") {
        this.#i++;
        continue;
      }
      if (this.#peek() === "}") {
        this.#i++;
        return { kind: "struct", fields };
      }
      this.#expected("',' or '}' in a struct");
    }
  }

  #string(): string {
    const start = this.#i;
    this.#i++;
    let out = "";
    for (;;) {
      const ch = this.#peek();
      if (ch === "" || ch === "\n") this.#fail(start, "unterminated string");
      this.#i++;
      if (ch === '"') return out;
      if (ch === "\\") {
        const e = this.#peek();
        this.#i++;
        out += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "0" ? "\0" : e;
      } else {
        out += ch;
      }
    }
  }

  // ---- lexical helpers

  #peekWord(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.#src.slice(this.#i, this.#i + 128));
    return m ? m[0] : "";
  }

  #word(what: string): string {
    const w = this.#peekWord();
    if (w === "") this.#expected(what);
    this.#i += w.length;
    return w;
  }

  #keyword(k: string): void {
    this.#skipSpace(false);
    if (this.#peekWord() !== k) this.#expected(`'${k}'`);
    this.#i += k.length;
  }

  #punct(p: string, what: string): void {
    this.#skipSpace(false);
    if (this.#peek() !== p) this.#expected(what);
    this.#i++;
  }

  /** A non-negative integer (decimal or 0x hex) no larger than `max`. */
  #uint(what: string, max: number): number {
    this.#skipSpace(false);
    const at = this.#i;
    const n = this.#number(what);
    if (!Number.isInteger(n) || n > max) this.#fail(at, `${what} out of range (0..${max})`);
    return n;
  }

  #number(what: string): number {
    const m = /^(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?)/.exec(this.#src.slice(this.#i, this.#i + 64));
    if (!m) this.#expected(what);
    if (m[0].length > 20) this.#fail(this.#i, `${what} is too long`);
    this.#i += m[0].length;
    if (/[A-Za-z_]/.test(this.#peek())) this.#fail(this.#i, `unexpected ${this.#describeHere()} after a number`);
    return Number(m[0]);
  }
}
