// Fuzz target: arbitrary bytes sent to netlab's HTTP server (stack/app/http) over an
// in-memory stream pair, split in up to three writes, then a half-close.
// Oracles: nothing throws; everything the server sends parses as a sequence of responses;
// every request the handler saw was answered, in order; after an error status the server
// closes; the request parser on its own also refuses input the server refused; the parser frames
// the same requests however the input is chunked; and it frames them as llhttp (node:http's own
// parser) does: the same method, target and body for every request both completed, and neither
// completes a request the other is still reading (where one refuses the input, only the requests
// before that point are compared: netlab's limits here are far below llhttp's).
import { createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import { createStreamPair } from "../../../stack/transport/stream-pair.ts";
import { createHttpServer, type HttpServer } from "../../../stack/app/http/server.ts";
import type { HttpParserLimits } from "../../../stack/app/http/parser.ts";
import { createResponseParser, llhttpFraming, netlabBodyEnds, netlabFraming, type Framing } from "../http-reference.ts";
import { checkChunkInvariant, sameValue, show, fail as oracleFail, withoutStacks } from "../oracles.ts";

/**
 * The code under test, the only code Jazzer.js instruments for this target besides the target
 * itself (runner.ts bundleTarget): the virtual clock, the stream pair and
 * the oracles (llhttp framing, chunking, with their copy of the parser) run uninstrumented, and
 * so does emit.ts: it writes the response heads from a status and from values the request parser
 * already took as tokens (the method) or the handler made (X-Seq), so its per-character checks
 * never branch on the input (the "server output parses" oracle still reads all it writes).
 */
export const instrumentOnly = [
  "stack/app/http/server.ts",
  "stack/app/http/body.ts",
  "stack/app/http/parser.ts",
  "stack/app/http/headers.ts",
  "stack/app/http/utf8.ts",
  "stack/app/http/date.ts",
];

/**
 * The oracles' module: the parses it runs (the chunking and llhttp differentials, reading the
 * server's output) use an uninstrumented copy of the parser (runner.ts bundleTarget). Every input
 * still gets every oracle; the server's own parse of the input stays instrumented (the coverage).
 */
export const oracleModules = ["harness/fuzz/http-reference.ts"];

/**
 * llhttp refusals that are not netlab's to follow, each with its reason. A request netlab
 * completes where llhttp refuses with one of these is not a finding.
 */
const LLHTTP_STRICTER: ReadonlyMap<string, string> = new Map([
  // RFC 9110 §9.1: a method is any token; llhttp knows a fixed list of methods.
  ["HPE_INVALID_METHOD", "extension methods"],
  // RFC 9110 §2.5: HTTP/1.x with a higher minor version is read as the highest one supported; llhttp refuses 1.2 and up.
  ["HPE_INVALID_VERSION", "higher minor versions"],
  // After a request with Connection: close (or HTTP/1.0 without keep-alive) llhttp refuses more
  // bytes; netlab's parser frames on and its server stops reading there (checked above).
  ["HPE_CLOSED_CONNECTION", "data after a closing request"],
]);

/**
 * llhttp also validates framing fields (Transfer-Encoding, Content-Length) in the trailer
 * section; netlab never frames by trailer fields (RFC 9110 §6.5.1). Such a refusal past the end
 * of the request's body is not a finding (in the header section it is).
 */
const LLHTTP_TRAILER_CHECKS: ReadonlySet<string> = new Set(["HPE_INVALID_TRANSFER_ENCODING", "HPE_INVALID_CONTENT_LENGTH", "HPE_UNEXPECTED_CONTENT_LENGTH"]);

/** The line of `bytes` (LF to LF) that holds offset `at` (clamped to the input), as latin1. */
function lineAround(bytes: Uint8Array, at: number): string {
  const from = Math.min(at, bytes.length);
  let start = from;
  while (start > 0 && bytes[start - 1] !== 10) start--;
  let end = from;
  while (end < bytes.length && bytes[end] !== 10) end++;
  return Buffer.from(bytes.subarray(start, end)).toString("latin1");
}

/** The lines of `bytes` up to and including offset `at`, as latin1. */
function linesThrough(bytes: Uint8Array, at: number): string[] {
  return Buffer.from(bytes.subarray(0, Math.min(bytes.length, at + 1)))
    .toString("latin1")
    .split("\n");
}

/**
 * RFC 9112 §7.1.1 allows BWS around a chunk extension's ";" and "="; llhttp in strict mode
 * refuses it (HPE_STRICT, or HPE_INVALID_CHUNK_SIZE for BWS before the first ";"). True when
 * llhttp's refusal falls in a chunk-size line with extensions and whitespace.
 */
function bwsInChunkExtension(bytes: Uint8Array, theirs: Framing): boolean {
  if (theirs.errorOffset === undefined || (theirs.error !== "HPE_STRICT" && theirs.error !== "HPE_INVALID_CHUNK_SIZE")) return false;
  const line = lineAround(bytes, theirs.errorOffset);
  return /^[0-9a-fA-F]+[ \t]*;/.test(line) && /[ \t]/.test(line);
}

/**
 * RFC 9110 §5.5 strips OWS (SP and HTAB) around a field value; llhttp accepts "chunked " but
 * refuses "chunked<HTAB>" (HPE_INVALID_TRANSFER_ENCODING). True when llhttp's refusal follows a
 * Transfer-Encoding line ending in HTAB.
 */
function htabAfterTransferEncoding(bytes: Uint8Array, theirs: Framing): boolean {
  if (theirs.error !== "HPE_INVALID_TRANSFER_ENCODING" || theirs.errorOffset === undefined) return false;
  return linesThrough(bytes, theirs.errorOffset).some((line) => /^transfer-encoding:.*\t[ \t]*\r?$/i.test(line));
}

/**
 * The same for Content-Length: llhttp refuses "1<HTAB>" (HPE_INVALID_CONTENT_LENGTH), where OWS
 * after the digits is stripped (RFC 9110 §5.5). True when llhttp's refusal follows a
 * Content-Length line of digits ending in HTAB (only whitespace after the digits: "0x10", "1e2" and
 * "+5" stay findings).
 */
function htabAfterContentLength(bytes: Uint8Array, theirs: Framing): boolean {
  if (theirs.error !== "HPE_INVALID_CONTENT_LENGTH" || theirs.errorOffset === undefined) return false;
  return linesThrough(bytes, theirs.errorOffset).some((line) => /^content-length:[ \t]*[0-9]+[ \t]*\t[ \t]*\r?$/i.test(line));
}

/**
 * RFC 9110 §5.6.1.2: a recipient ignores empty list elements, so "chunked," and "chunked, ,"
 * name chunked as the final coding; llhttp takes a comma after "chunked" as another coding to come
 * and refuses the request (HPE_INVALID_TRANSFER_ENCODING; it accepts ", chunked"). True when
 * llhttp's refusal follows a Transfer-Encoding line whose last non-empty element is chunked.
 */
function emptyElementAfterChunked(bytes: Uint8Array, theirs: Framing): boolean {
  if (theirs.error !== "HPE_INVALID_TRANSFER_ENCODING" || theirs.errorOffset === undefined) return false;
  return linesThrough(bytes, theirs.errorOffset).some((line) => /^transfer-encoding:(.*,)?[ \t]*chunked[ \t]*,[ \t,]*\r?$/i.test(line));
}

/**
 * RFC 3986 §3.1: a URI scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); llhttp takes letters
 * only and refuses an absolute-form target such as "a-b://h/" (HPE_INVALID_URL). True when
 * llhttp's refusal falls in a request line whose target starts with such a scheme.
 */
function schemeBeyondLetters(bytes: Uint8Array, theirs: Framing): boolean {
  if (theirs.error !== "HPE_INVALID_URL" || theirs.errorOffset === undefined) return false;
  const line = lineAround(bytes, theirs.errorOffset);
  const scheme = /^[^ ]+ ([A-Za-z][A-Za-z0-9+.-]*):/.exec(line)?.[1];
  return scheme !== undefined && /[0-9+.-]/.test(scheme);
}

/** The differential with llhttp (see the header comment). */
function compareFraming(bytes: Uint8Array, ours: Framing): void {
  const theirs = llhttpFraming(bytes);
  const n = Math.min(ours.requests.length, theirs.requests.length);
  for (let k = 0; k < n; k++) {
    if (!sameValue(ours.requests[k], theirs.requests[k])) {
      oracleFail("differential", `request ${k}: netlab ${show(ours.requests[k])}, llhttp ${show(theirs.requests[k])}`, bytes);
    }
  }
  const inTrailers = (): boolean =>
    theirs.errorOffset !== undefined && LLHTTP_TRAILER_CHECKS.has(theirs.error ?? "") && theirs.errorOffset > (netlabBodyEnds(bytes, LIMITS)[n] ?? Infinity);
  if (
    ours.requests.length > n &&
    !(
      theirs.end === "error" &&
      (LLHTTP_STRICTER.has(theirs.error ?? "") ||
        inTrailers() ||
        bwsInChunkExtension(bytes, theirs) ||
        htabAfterTransferEncoding(bytes, theirs) ||
        htabAfterContentLength(bytes, theirs) ||
        emptyElementAfterChunked(bytes, theirs) ||
        schemeBeyondLetters(bytes, theirs))
    )
  ) {
    oracleFail(
      "differential",
      `netlab completes request ${n} (${show(ours.requests[n])}) that llhttp ${theirs.end === "error" ? `refuses (${theirs.error ?? "?"})` : "is still reading"}`,
      bytes,
    );
  }
  if (theirs.requests.length > n && ours.end !== "error") {
    oracleFail("differential", `llhttp completes request ${n} (${show(theirs.requests[n])}) that netlab is still reading (${ours.end})`, bytes);
  }
}

const LIMITS: Partial<HttpParserLimits> = { maxUriBytes: 64, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 512, maxChunkLineBytes: 32 };

function fail(what: string, bytes: Uint8Array): never {
  throw new Error(`http-server: ${what}\n  in: ${Buffer.from(bytes).toString("hex")}`);
}

/**
 * A clock and a server answering every request by its target, length and order (X-Seq: the
 * requests it saw so far). A new one per input: a world kept for the next input (as this target
 * did while the server was idle) made Jazzer.js slower, not faster: each input's objects it held
 * survived V8's scavenges and were promoted (~2 MB per scavenge, 6-10 ms, against 0.2 MB and
 * 1-2 ms with a new world per input; 6.0k -> 7.0-8.3k exec/s).
 */
function newWorld(): { readonly clock: VirtualClock; readonly server: HttpServer } {
  const clock = createVirtualClock();
  let seen = 0;
  const server = createHttpServer(
    { clock },
    (req, res) => {
      seen++;
      let n = 0;
      req.body.onData((d) => {
        n += d.length;
      });
      req.body.onEnd(() => {
        res.setHeader("X-Seq", String(seen));
        res.setHeader("X-Method", req.method);
        if (n % 2 === 1) {
          res.write(`${n}`);
          res.end();
        } else res.end(`${req.target} ${n}`);
      });
    },
    { limits: LIMITS, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 500, lingerMs: 100, date: false },
  );
  return { clock, server };
}

/** Inputs run without error stacks (oracles.ts withoutStacks): a failing input is run again with them. */
export function fuzz(data: Buffer): void {
  withoutStacks(() => fuzzOne(data));
}

function fuzzOne(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const framing = checkChunkInvariant(
    "http request parser",
    bytes,
    (pieces) => netlabFraming(pieces, LIMITS),
    bytes.length === 0 ? 1 : bytes[0]! * 31 + bytes[bytes.length - 1]!,
  );
  compareFraming(bytes, framing);
  const { clock, server } = newWorld();
  const [client, srv] = createStreamPair(clock);
  server.handleConnection(srv);
  const out: Uint8Array[] = [];
  let ended = false;
  // Each chunk is the stream pair's own copy of what the server wrote (write() copies), kept as is.
  client.onData((d) => out.push(d));
  client.onEnd(() => {
    ended = true;
  });
  const cut1 = bytes.length === 0 ? 0 : (bytes[0]! * 7) % (bytes.length + 1);
  const cut2 = bytes.length === 0 ? 0 : cut1 + ((bytes[bytes.length - 1]! * 13) % (bytes.length - cut1 + 1));
  for (const piece of [bytes.subarray(0, cut1), bytes.subarray(cut1, cut2), bytes.subarray(cut2)]) {
    if (piece.length > 0) client.write(piece);
    clock.run(clock.now() + 10);
  }
  client.end();
  clock.run(clock.now() + 10_000);
  if (clock.pending() > 0) fail(`${clock.pending()} timers still pending after 10 s`, bytes);

  const statuses: number[] = [];
  const seqs: string[] = [];
  let finals = 0;
  const rp = createResponseParser({
    onHead: (h) => {
      statuses.push(h.status);
      seqs.push(h.headers.get("x-seq") ?? "-");
      // The final answer to request k has no body when request k is a HEAD (an error answer
      // too, which carries no X-Method); interim 1xx answers (100 Continue) are not counted.
      if (h.status < 200) return false;
      finals++;
      return h.headers.get("x-method") === "HEAD" || framing.heads?.[finals - 1] === "HEAD";
    },
    onBody: () => {},
    onComplete: () => {},
  });
  for (const o of out) {
    const r = rp.push(o);
    if (!r.ok) fail(`server output does not parse: ${r.error}`, bytes);
  }
  const fin = rp.finish();
  if (!fin.ok) fail(`server output ends mid-response: ${fin.error}`, bytes);
  const answered = seqs.filter((s) => s !== "-");
  if (answered.join(",") !== answered.map((_, i) => String(i + 1)).join(",")) fail(`responses out of order: ${answered.join(",")}`, bytes);
  const errorAt = statuses.findIndex((s) => s >= 400);
  if (errorAt >= 0 && errorAt !== statuses.length - 1) fail("the server answered after an error response", bytes);
  if (errorAt >= 0 && !ended) fail("the server did not close after an error response", bytes);

  // The parser alone, fed the whole input at once (the chunking oracle's run above, which also
  // told it the input ended), must also refuse what the server refused.
  if (errorAt >= 0 && statuses[errorAt] !== 408 && statuses[errorAt] !== 417 && framing.accepted === true) {
    fail(`server answered ${statuses[errorAt]} but the parser accepts the input`, bytes);
  }
}

/** Seeds: valid pipelines, chunked bodies, and the smuggling shapes. */
export function seeds(): Uint8Array[] {
  const s = (t: string): Uint8Array => Uint8Array.from(t, (c) => c.charCodeAt(0));
  return [
    s("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
    s("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcHEAD /h HTTP/1.1\r\nHost: h\r\n\r\n"),
    s("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
    s("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    s("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    s("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\nHost: h\r\n\r\n"),
    s("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"),
  ];
}
