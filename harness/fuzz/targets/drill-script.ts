// Fuzz target: packetdrill script text (harness/drill/parser.ts parseDrillScript), which `netlab
// drill` reads from files a user hands it: untrusted text. Each input byte is one character
// (latin1), so the engine controls every character.
// Oracles: the parser returns a result and never throws; an error names a position inside the
// text (line 1..lines, column 1..line length + 1) with a message; every event of a script sits
// inside the text, in file order, at the start of its line's non-blank text or later; the same
// text parses to the same result twice (no state survives a parse); a script that parses parses
// to the same events and options with a comment line appended (what follows the last statement
// cannot change it).
import { parseDrillScript } from "../../drill/parser.ts";
import type { DrillParseError, DrillScript, SourcePos } from "../../drill/model.ts";
import { fail, sameValue, show } from "../oracles.ts";

/** The code under test (runner.ts bundleTarget): only it is instrumented for coverage. */
export const instrumentOnly = ["harness/drill/"];

const FILE = "fuzz.pkt";

const project = (r: { ok: true; value: DrillScript } | { ok: false; error: DrillParseError }): unknown =>
  r.ok ? { options: [...r.value.options], events: r.value.events } : { error: r.error };

/** Line lengths (without the newline) of `text`. */
function lineLengths(text: string): number[] {
  const out: number[] = [];
  let start = 0;
  for (let k = 0; k <= text.length; k++) {
    if (k === text.length || text.charCodeAt(k) === 10) {
      out.push(k - start);
      start = k + 1;
    }
  }
  return out;
}

function checkPos(what: string, pos: SourcePos, lines: number[], input: Uint8Array): void {
  if (pos.file !== FILE) fail("position", `${what}: file ${show(pos.file)}, not ${FILE}`, input);
  const len = lines[pos.line - 1];
  if (!Number.isInteger(pos.line) || len === undefined) fail("position", `${what}: line ${pos.line} outside the text's ${lines.length} line(s)`, input);
  if (!Number.isInteger(pos.column) || pos.column < 1 || pos.column > len + 1)
    fail("position", `${what}: column ${pos.column} outside line ${pos.line} (${len} characters)`, input);
}

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const text = data.toString("latin1");
  const lines = lineLengths(text);
  const r = parseDrillScript(text, FILE);
  if (!r.ok) {
    checkPos("error", r.error.pos, lines, input);
    if (r.error.message.length === 0) fail("error", "an error without a message", input);
  } else {
    let prev = { line: 0, column: 0 };
    for (const [k, e] of r.value.events.entries()) {
      checkPos(`event ${k}`, e.pos, lines, input);
      if (e.pos.line < prev.line || (e.pos.line === prev.line && e.pos.column <= prev.column))
        fail("position", `event ${k} at ${e.pos.line}:${e.pos.column} is not after event ${k - 1} at ${prev.line}:${prev.column}`, input);
      prev = e.pos;
    }
  }
  const again = parseDrillScript(text, FILE);
  if (!sameValue(project(r), project(again)))
    fail("determinism", `a second parse differs:\n  first:  ${show(project(r)).slice(0, 300)}\n  second: ${show(project(again)).slice(0, 300)}`, input);
  if (r.ok) {
    const more = parseDrillScript(`${text}\n// a comment after the script\n`, FILE);
    if (!more.ok || !sameValue(project(r), project(more)))
      fail(
        "tail-independence",
        `a comment line after the script changed its parse:\n  before: ${show(project(r)).slice(0, 300)}\n  after:  ${show(project(more)).slice(0, 300)}`,
        input,
      );
  }
}
