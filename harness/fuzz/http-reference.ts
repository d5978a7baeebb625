// Request framing as two independent parsers see it: netlab's push parser and llhttp, the parser
// inside node:http (driven synchronously through node's `_http_common` HTTPParser, the very object
// node:http's server uses). The http fuzz targets compare them.
// The http targets name this module in `oracleModules` (runner.ts bundleTarget): under Jazzer.js
// the netlab parsers it runs, and the response parser it hands on to read what a server sent,
// are an uninstrumented copy of stack/app/http/, so the oracles' re-runs cost no hooks.
import { createRequire } from "node:module";
import { createRequestParser, type HttpParserLimits } from "../../stack/app/http/parser.ts";

export { createResponseParser } from "../../stack/app/http/parser.ts";

/** A request as framed by a parser: method, target and the decoded body. */
export interface FramedRequest {
  readonly method: string;
  readonly target: string;
  readonly body: string;
}

/** What a parser made of a byte stream: the requests it completed and how it stopped. */
export interface Framing {
  readonly requests: FramedRequest[];
  /** The method of every request head parsed, complete or not (netlab's framing only). */
  readonly heads?: string[];
  /** "error": refused the input; "incomplete": waiting for more bytes; "complete": ended between messages. */
  readonly end: "error" | "incomplete" | "complete";
  readonly error?: string;
  /** llhttp only: the byte offset where it refused the input. */
  readonly errorOffset?: number;
  /** netlab only: whether finish() (end of input) then succeeds too: the parser accepts the whole input. */
  readonly accepted?: boolean;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** netlab's request parser fed `pieces` in turn, then told the input ended (finish()). */
export function netlabFraming(pieces: Uint8Array[], limits: Partial<HttpParserLimits>): Framing {
  const requests: FramedRequest[] = [];
  const heads: string[] = [];
  let head: { method: string; target: string } | undefined;
  let body = "";
  const p = createRequestParser(
    {
      onHead: (h) => {
        head = { method: h.method, target: h.target };
        heads.push(h.method);
        body = "";
      },
      onBody: (d) => {
        body += hex(d);
      },
      onComplete: () => {
        if (head) requests.push({ ...head, body });
        head = undefined;
      },
    },
    limits,
  );
  for (const piece of pieces) {
    const r = p.push(piece);
    if (!r.ok) return { requests, heads, end: "error", error: r.error, accepted: false };
  }
  const end = p.inMessage ? "incomplete" : "complete";
  return { requests, heads, end, accepted: p.finish().ok };
}

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  [key: number]: unknown;
}
interface LlhttpModule {
  HTTPParser: { new (): LlhttpParser; REQUEST: number; kOnHeaders: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number };
  methods: string[];
}

let llhttp: LlhttpModule | undefined;
/** One llhttp parser, re-initialized per input as node:http does with its pooled parsers (a new native parser per input cost as much as the parse). */
let shared: { parser: LlhttpParser; state: LlhttpState } | undefined;
interface LlhttpState {
  requests: FramedRequest[];
  head: { method: string; target: string } | undefined;
  body: string;
  flushedUrl: string;
}

/** llhttp (node:http's parser, strict mode) fed `bytes`. */
export function llhttpFraming(bytes: Uint8Array): Framing {
  llhttp ??= createRequire(`${process.cwd()}/`)("_http_common") as LlhttpModule;
  const { HTTPParser, methods } = llhttp;
  if (shared === undefined) {
    const p = new HTTPParser();
    const st: LlhttpState = { requests: [], head: undefined, body: "", flushedUrl: "" };
    // As in node:http: when the head spans more than one execute() or is long, llhttp hands the
    // URL over early through kOnHeaders and kOnHeadersComplete gets none.
    p[HTTPParser.kOnHeaders] = (_headers: string[], url: string | undefined) => {
      st.flushedUrl += url ?? "";
    };
    p[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, _headers: string[], method: number, url: string | undefined) => {
      st.head = { method: methods[method] ?? String(method), target: url || st.flushedUrl };
      st.flushedUrl = "";
      st.body = "";
      return 0;
    };
    p[HTTPParser.kOnBody] = (b: Buffer) => {
      st.body += b.toString("latin1");
    };
    // Trailer fields arrive through kOnHeaders too (with a stale URL): node:http drops both when the message completes.
    p[HTTPParser.kOnMessageComplete] = () => {
      if (st.head) st.requests.push({ ...st.head, body: st.body });
      st.head = undefined;
      st.flushedUrl = "";
    };
    shared = { parser: p, state: st };
  }
  const { parser: p, state: st } = shared;
  const requests: FramedRequest[] = [];
  st.requests = requests;
  st.head = undefined;
  st.body = "";
  st.flushedUrl = "";
  p.initialize(HTTPParser.REQUEST, {}, 0, 0);
  const r = p.execute(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (r instanceof Error) {
    const e = r as Error & { code?: string; bytesParsed?: number };
    return { requests, end: "error", error: e.code ?? e.message, ...(e.bytesParsed !== undefined ? { errorOffset: e.bytesParsed } : {}) };
  }
  return { requests, end: st.head !== undefined || st.body !== "" ? "incomplete" : "complete" };
}

/**
 * For each request netlab's parser completes, the offset just past the last byte of its head or
 * body (fed byte by byte): what follows, up to the message's end, is the last-chunk line and the
 * trailer section.
 */
export function netlabBodyEnds(bytes: Uint8Array, limits: Partial<HttpParserLimits>): number[] {
  const ends: number[] = [];
  let at = 0,
    last = 0;
  const p = createRequestParser(
    {
      onHead: () => {
        last = at + 1;
      },
      onBody: (d) => {
        if (d.length > 0) last = at + 1;
      },
      onComplete: () => {
        ends.push(last);
      },
    },
    limits,
  );
  for (; at < bytes.length; at++) if (!p.push(bytes.subarray(at, at + 1)).ok) break;
  return ends;
}
