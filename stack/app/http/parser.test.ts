import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  createRequestParser,
  createResponseParser,
  statusForParseError,
  type HttpParseError,
  type HttpParserLimits,
  type HttpRequestHead,
  type HttpResponseHead,
} from "./parser.ts";
import type { HttpHeader } from "./headers.ts";
import { emitChunk, emitLastChunk, emitRequestHead, emitResponseHead } from "./emit.ts";

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const dec = (b: Uint8Array): string => String.fromCharCode(...b);

interface Parsed<H> {
  heads: H[];
  bodies: string[];
  trailers: (Record<string, string> | null)[];
  error: HttpParseError | null;
}

function parseRequests(input: Uint8Array, limits: Partial<HttpParserLimits> = {}, splits: number[] = []): Parsed<HttpRequestHead> {
  const out: Parsed<HttpRequestHead> = { heads: [], bodies: [], trailers: [], error: null };
  let body = "";
  const p = createRequestParser(
    {
      onHead: (h) => {
        out.heads.push(h);
        body = "";
      },
      onBody: (d) => {
        body += dec(d);
      },
      onComplete: (t) => {
        out.bodies.push(body);
        out.trailers.push(t ? t.toObject() : null);
      },
    },
    limits,
  );
  let at = 0;
  for (const s of [...splits.filter((x) => x > 0 && x < input.length).sort((a, b) => a - b), input.length]) {
    const r = p.push(input.subarray(at, s));
    at = s;
    if (!r.ok) {
      out.error = r.error;
      return out;
    }
  }
  const f = p.finish();
  if (!f.ok) out.error = f.error;
  return out;
}

function parseResponses(input: Uint8Array, heads: boolean[] = [], splits: number[] = []): Parsed<HttpResponseHead> {
  const out: Parsed<HttpResponseHead> = { heads: [], bodies: [], trailers: [], error: null };
  let body = "";
  let n = 0;
  const p = createResponseParser({
    onHead: (h) => {
      out.heads.push(h);
      body = "";
      return h.status >= 200 ? heads[n++] === true : false;
    },
    onBody: (d) => {
      body += dec(d);
    },
    onComplete: (t) => {
      out.bodies.push(body);
      out.trailers.push(t ? t.toObject() : null);
    },
  });
  let at = 0;
  for (const s of [...splits.filter((x) => x > 0 && x < input.length).sort((a, b) => a - b), input.length]) {
    const r = p.push(input.subarray(at, s));
    at = s;
    if (!r.ok) {
      out.error = r.error;
      return out;
    }
  }
  const f = p.finish();
  if (!f.ok) out.error = f.error;
  return out;
}

describe("request parser: accepted messages", () => {
  it("parses a GET with headers, trimming optional whitespace around values", () => {
    const r = parseRequests(enc("GET /a/b?c=d HTTP/1.1\r\nHost: example.test\r\nX-Thing: \t spaced value \t\r\n\r\n"));
    expect(r.error).toBeNull();
    expect(r.heads).toHaveLength(1);
    const h = r.heads[0]!;
    expect([h.method, h.target, h.version, h.bodyKind, h.keepAlive, h.contentLength]).toEqual(["GET", "/a/b?c=d", "1.1", "none", true, null]);
    expect(h.headers.raw).toEqual([
      ["Host", "example.test"],
      ["X-Thing", "spaced value"],
    ]);
    expect(r.bodies).toEqual([""]);
  });

  it("parses a Content-Length body split into one-byte chunks", () => {
    const msg = enc("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
    const r = parseRequests(
      msg,
      {},
      Array.from({ length: msg.length }, (_, i) => i),
    );
    expect(r.error).toBeNull();
    expect(r.heads[0]!.contentLength).toBe(11);
    expect(r.bodies).toEqual(["hello world"]);
  });

  it("parses a chunked body, ignoring chunk extensions and returning trailers", () => {
    const r = parseRequests(
      enc(
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
          '5;name=value\r\nhello\r\n1 ; a="q"\r\n \r\n0A\r\n0123456789\r\n0\r\nX-Sum: 42\r\nX-Other: y\r\n\r\n',
      ),
    );
    expect(r.error).toBeNull();
    expect(r.heads[0]!.bodyKind).toBe("chunked");
    expect(r.bodies).toEqual(["hello 0123456789"]);
    expect(r.trailers).toEqual([{ "x-sum": "42", "x-other": "y" }]);
  });

  it("handles chunked edge cases: upper-case hex, leading zeros, an extension on the last chunk, many one-byte chunks", () => {
    const head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const a = parseRequests(enc(`${head}0000A\r\n0123456789\r\n00;last=yes\r\n\r\n`));
    expect([a.error, a.bodies]).toEqual([null, ["0123456789"]]);
    const b = parseRequests(enc(`${head}1F\r\n${"x".repeat(31)}\r\n0\r\n\r\n`));
    expect(b.bodies).toEqual(["x".repeat(31)]);
    const many = Array.from({ length: 500 }, (_, i) => `1\r\n${String.fromCharCode(97 + (i % 26))}\r\n`).join("");
    const c = parseRequests(enc(`${head}${many}0\r\n\r\n`));
    expect(c.bodies[0]!.length).toBe(500);
    expect(c.bodies[0]!.slice(0, 27)).toBe("abcdefghijklmnopqrstuvwxyza");
  });

  it("rejects malformed trailers and reports a body without its final CRLF as incomplete", () => {
    const head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
    expect(parseRequests(enc(`${head}X: 1\r\n folded\r\n\r\n`)).error).toBe("obs-fold");
    expect(parseRequests(enc(`${head}Bad Name: 1\r\n\r\n`)).error).toBe("bad-header-name");
    expect(parseRequests(enc(`${head}X: 1\n\r\n`)).error).toBe("bare-lf");
    expect(parseRequests(enc(`${head}X: 1\r\n`)).error).toBe("incomplete");
    expect(parseRequests(enc(head)).error).toBe("incomplete");
  });

  it("refuses framing fields in the trailers of a request or a response (RFC 9110 §6.5.1) and keeps other trailer fields", () => {
    const head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
    expect(parseRequests(enc(`${head}Content-Length: 3\r\n\r\n`)).error).toBe("framing-field-in-trailers");
    expect(parseRequests(enc(`${head}content-length: 3\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n`)).heads).toHaveLength(1);
    const kept = parseRequests(enc(`${head}Content-Lengthy: 3\r\nX-Transfer-Encoding: gzip\r\n\r\n`));
    expect([kept.error, kept.trailers]).toEqual([null, [{ "content-lengthy": "3", "x-transfer-encoding": "gzip" }]]);
    const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect(parseResponses(enc(response)).error).toBe("framing-field-in-trailers");
  });

  it("parses pipelined requests in order, skipping empty lines between them", () => {
    const r = parseRequests(
      enc(
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
          "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\r\n" +
          "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      ),
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => [h.target, h.keepAlive])).toEqual([
      ["/1", true],
      ["/2", true],
      ["/3", false],
    ]);
    expect(r.bodies).toEqual(["", "abc", ""]);
  });

  it("applies HTTP/1.0 keep-alive rules", () => {
    const a = parseRequests(enc("GET / HTTP/1.0\r\n\r\n")).heads[0]!;
    const b = parseRequests(enc("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).heads[0]!;
    const c = parseRequests(enc("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, CLOSE\r\n\r\n")).heads[0]!;
    expect([a.version, a.keepAlive, b.keepAlive, c.keepAlive]).toEqual(["1.0", false, true, false]);
  });

  it("recognises Expect: 100-continue only on HTTP/1.1 and reports other expectations", () => {
    const a = parseRequests(enc("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz")).heads[0]!;
    const b = parseRequests(enc("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz")).heads[0]!;
    const c = parseRequests(enc("GET /x HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n")).heads[0]!;
    expect([a.expectContinue, b.expectContinue, c.expectContinue, c.unsupportedExpect]).toEqual([true, false, false, "teapot"]);
  });

  it("treats a higher HTTP/1 minor version as 1.1 and accepts asterisk, absolute and authority forms", () => {
    const r = parseRequests(
      enc(
        "OPTIONS * HTTP/1.9\r\nHost: h\r\n\r\nGET http://h/x HTTP/1.1\r\nHost: h\r\n\r\nCONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n\r\n" +
          "GET svn+ssh://u:p@[::1]:8080?q HTTP/1.1\r\nHost: h\r\n\r\nGET http://h.test:/ HTTP/1.1\r\nHost: h\r\n\r\nGET http://%41b~c HTTP/1.1\r\nHost: h\r\n\r\n",
      ),
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => [h.method, h.target, h.version])).toEqual([
      ["OPTIONS", "*", "1.1"],
      ["GET", "http://h/x", "1.1"],
      ["CONNECT", "h.test:443", "1.1"],
      ["GET", "svn+ssh://u:p@[::1]:8080?q", "1.1"],
      ["GET", "http://h.test:/", "1.1"],
      ["GET", "http://%41b~c", "1.1"],
    ]);
  });

  it("holds bytes while paused and delivers them on resume", () => {
    const seen: string[] = [];
    const p = createRequestParser({
      onHead: (h) => {
        seen.push(h.target);
        if (h.target === "/1") p.pause();
      },
      onBody: () => {},
      onComplete: () => {
        seen.push("done");
      },
    });
    expect(p.push(enc("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")).ok).toBe(true);
    expect(seen).toEqual(["/1", "done"]);
    expect(p.push(enc("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")).ok).toBe(true);
    expect(seen).toEqual(["/1", "done"]);
    expect(p.resume().ok).toBe(true);
    expect(seen).toEqual(["/1", "done", "/2", "done", "/3", "done"]);
  });

  it("returns each message's own names and values while names and values repeat, change and share cache slots", () => {
    const sent: HttpHeader[][] = [];
    let wire = "";
    for (let i = 0; i < 300; i++) {
      // a few recurring values, many one-off ones (which collide in the cache's 64 slots), names in varying case
      const fields: HttpHeader[] = [
        ["Host", i % 3 === 0 ? "a.test" : "b.test"],
        [i % 2 === 0 ? "X-Seq" : "x-seq", `v${i}`],
        ["X-Same", "same"],
        ["CONTENT-LENGTH", "0"],
      ];
      if (i % 5 === 0) fields.push(["Connection", i % 10 === 0 ? "close" : "keep-alive"]);
      sent.push(fields);
      wire += `GET /${i} HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
    }
    const r = parseRequests(enc(wire));
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => h.headers.raw)).toEqual(sent);
    expect(r.heads.map((h) => h.keepAlive)).toEqual(sent.map((_, i) => i % 10 !== 0));
  });
});

// Each hostile shape, the parser's code, and the status the server answers with.
const REJECTED: [string, string, HttpParseError, number][] = [
  [
    "Content-Length with Transfer-Encoding",
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "content-length-with-transfer-encoding",
    400,
  ],
  [
    "Transfer-Encoding then Content-Length",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    "content-length-with-transfer-encoding",
    400,
  ],
  ["duplicate identical Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "duplicate-content-length", 400],
  ["differing Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "duplicate-content-length", 400],
  ["Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", "bad-content-length", 400],
  ["signed Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", "bad-content-length", 400],
  ["Content-Length beyond 2^53", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad-content-length", 400],
  ["Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "bad-transfer-encoding", 400],
  ["Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", "bad-transfer-encoding", 400],
  ["chunked applied twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "bad-transfer-encoding", 400],
  ["misspelt chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", "bad-transfer-encoding", 400],
  ["empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", "bad-transfer-encoding", 400],
  ["unknown coding before chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported-transfer-coding", 501],
  ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "transfer-encoding-in-http10", 400],
  ["chunk size not hex", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad-chunk-size", 400],
  ["chunk size with 0x prefix", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", "bad-chunk-size", 400],
  ["negative chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "bad-chunk-size", 400],
  ["empty chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad-chunk-size", 400],
  ["chunk size with trailing space and no extension", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n", "bad-chunk-size", 400],
  ["chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", "chunk-size-overflow", 400],
  ["chunk extension with control byte", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n", "bad-chunk-extension", 400],
  ["chunk data longer than its size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", "bad-chunk-terminator", 400],
  ["chunk data ended by bare LF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", "bad-chunk-terminator", 400],
  [
    "Content-Length in a chunked trailer",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 3\r\n\r\n",
    "framing-field-in-trailers",
    400,
  ],
  [
    "Transfer-Encoding in a chunked trailer",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Ok: 1\r\ntransfer-ENCODING: chunked\r\n\r\n",
    "framing-field-in-trailers",
    400,
  ],
  ["chunk size line ended by bare LF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", "bare-lf", 400],
  ["bare LF after a header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", "bare-lf", 400],
  ["bare LF after the request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", "bare-lf", 400],
  ["bare LF ending the head", "GET / HTTP/1.1\r\nHost: h\r\n\n", "bare-lf", 400],
  ["bare CR inside a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", "bare-cr", 400],
  ["whitespace before colon", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n", "whitespace-before-colon", 400],
  ["tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", "whitespace-before-colon", 400],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", "obs-fold", 400],
  ["whitespace before the first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", "obs-fold", 400],
  ["invalid header name character", "GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", "bad-header-name", 400],
  ["header line without colon", "GET / HTTP/1.1\r\nHost: h\r\nnocolon\r\n\r\n", "bad-header-name", 400],
  ["empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", "bad-header-name", 400],
  ["NUL in a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", "bad-header-value", 400],
  ["invalid method character", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "bad-method", 400],
  ["space in the target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", "bad-version", 400],
  ["double space after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "bad-request-line", 400],
  ["control byte in the target", "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["asterisk target on GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  [
    "a byte no URI allows in an absolute-form host (RFC 3986 §3.2.2; llhttp refuses it too)",
    "PUT http://o`i/u HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    "bad-target",
    400,
  ],
  ["a brace in an absolute-form authority", "GET http://h{x}:80/ HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["an absolute-form target with no host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["a port that is not digits", "GET http://h:8o/x HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["a fragment right after an absolute-form authority (an absolute-URI has none)", "GET http://h#f HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
  ["lower-case protocol name", "GET / http/1.1\r\nHost: h\r\n\r\n", "bad-version", 400],
  ["two-digit minor version", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", "bad-version", 400],
  ["missing version", "GET /\r\nHost: h\r\n\r\n", "bad-request-line", 400],
  ["HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "unsupported-version", 505],
  ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", "missing-host", 400],
  ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "duplicate-host", 400],
  ["message truncated in the body", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabc", "incomplete", 400],
];

describe("request parser: smuggling shapes and malformed input", () => {
  for (const [name, text, code, status] of REJECTED) {
    it(`rejects ${name} with ${code} (${status})`, () => {
      const r = parseRequests(enc(text));
      expect(r.error).toBe(code);
      expect(statusForParseError(code)).toBe(status);
    });
  }

  it("reports the same error code wherever the input is split", () => {
    fc.assert(
      fc.property(fc.constantFrom(...REJECTED), fc.array(fc.nat(200), { maxLength: 6 }), ([, text, code], splits) => {
        expect(parseRequests(enc(text), {}, splits).error).toBe(code);
      }),
    );
  });

  it("stays failed after an error", () => {
    const p = createRequestParser({ onHead: () => {}, onBody: () => {}, onComplete: () => {} });
    expect(p.push(enc("GET / HTTP/1.1\nHost: h\r\n\r\n"))).toEqual({ ok: false, error: "bare-lf" });
    expect(p.push(enc("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))).toEqual({ ok: false, error: "bare-lf" });
    expect(p.error).toBe("bare-lf");
  });
});

describe("request parser: limits", () => {
  it("answers a target longer than maxUriBytes with 414, even before the line ends", () => {
    const long = "/" + "a".repeat(100);
    expect(parseRequests(enc(`GET ${long} HTTP/1.1\r\nHost: h\r\n\r\n`), { maxUriBytes: 100 }).error).toBe("uri-too-long");
    expect(parseRequests(enc(`GET ${long}${"a".repeat(200)}`), { maxUriBytes: 100 }).error).toBe("uri-too-long");
    expect(parseRequests(enc(`GET ${long.slice(0, 100)} HTTP/1.1\r\nHost: h\r\n\r\n`), { maxUriBytes: 100 }).error).toBeNull();
    expect(statusForParseError("uri-too-long")).toBe(414);
  });

  it("answers a field section larger than maxHeaderBytes with 431, even before it ends", () => {
    const big = `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(300)}\r\n\r\n`;
    expect(parseRequests(enc(big), { maxHeaderBytes: 256 }).error).toBe("headers-too-large");
    expect(parseRequests(enc(big.slice(0, 200)), { maxHeaderBytes: 64 }).error).toBe("headers-too-large");
    expect(parseRequests(enc(big), { maxHeaderBytes: 320 }).error).toBeNull();
    expect(statusForParseError("headers-too-large")).toBe(431);
  });

  it("answers more than maxHeaderCount fields with 431", () => {
    const fields = Array.from({ length: 11 }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    expect(parseRequests(enc(`GET / HTTP/1.1\r\nHost: h\r\n${fields}\r\n`), { maxHeaderCount: 11 }).error).toBe("too-many-headers");
    expect(parseRequests(enc(`GET / HTTP/1.1\r\nHost: h\r\n${fields}\r\n`), { maxHeaderCount: 12 }).error).toBeNull();
    expect(statusForParseError("too-many-headers")).toBe(431);
  });

  it("answers a declared or chunked body larger than maxBodyBytes with 413", () => {
    expect(parseRequests(enc("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"), { maxBodyBytes: 10 }).error).toBe("body-too-large");
    const chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n";
    expect(parseRequests(enc(chunked), { maxBodyBytes: 10 }).error).toBe("body-too-large");
    expect(parseRequests(enc(chunked), { maxBodyBytes: 11 }).bodies).toEqual(["abcdefghijk"]);
    expect(statusForParseError("body-too-large")).toBe(413);
  });

  it("bounds trailers by the header limits", () => {
    const text = `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${"t".repeat(100)}\r\n\r\n`;
    expect(parseRequests(enc(text), { maxHeaderBytes: 64 }).error).toBe("headers-too-large");
  });

  it("bounds the chunk-size line", () => {
    const text = `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;${"e".repeat(100)}\r\na\r\n0\r\n\r\n`;
    expect(parseRequests(enc(text), { maxChunkLineBytes: 64 }).error).toBe("chunk-extension-too-long");
    expect(parseRequests(enc(text), { maxChunkLineBytes: 128 }).bodies).toEqual(["a"]);
  });
});

describe("response parser", () => {
  it("parses Content-Length, chunked with trailers, and close-delimited bodies", () => {
    const r = parseResponses(
      enc(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" +
          "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
          "HTTP/1.0 200 OK\r\n\r\nuntil the end",
      ),
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => [h.status, h.reason, h.bodyKind, h.keepAlive])).toEqual([
      [200, "OK", "length", true],
      [201, "Created", "chunked", true],
      [200, "OK", "until-close", false],
    ]);
    expect(r.bodies).toEqual(["hi", "abc", "until the end"]);
    expect(r.trailers).toEqual([null, { "x-t": "1" }, null]);
  });

  it("reads no body after HEAD, 204, 304 and 1xx even with Content-Length", () => {
    const r = parseResponses(
      enc(
        "HTTP/1.1 100 Continue\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" +
          "HTTP/1.1 204 No Content\r\n\r\n" +
          "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
      ),
      [true, false, false, false],
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => h.status)).toEqual([100, 200, 204, 304, 200]);
    expect(r.bodies).toEqual(["", "", "", "x"]);
  });

  it("accepts a status line without reason and rejects malformed ones", () => {
    expect(parseResponses(enc("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")).heads[0]!.reason).toBe("");
    expect(parseResponses(enc("HTTP/1.1 20 OK\r\n\r\n")).error).toBe("bad-status-line");
    expect(parseResponses(enc("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")).error).toBe("bare-lf");
    expect(parseResponses(enc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")).error).toBe(
      "content-length-with-transfer-encoding",
    );
    expect(parseResponses(enc("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")).error).toBe("incomplete");
  });
});

describe("serializer", () => {
  it("emits golden request and response heads", () => {
    expect(
      dec(
        emitRequestHead({
          method: "GET",
          target: "/x?y",
          headers: [
            ["Host", "h"],
            ["Accept", "*/*"],
          ],
        }),
      ),
    ).toBe("GET /x?y HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n");
    expect(dec(emitResponseHead({ status: 404, version: "1.0", headers: [["Content-Length", "0"]] }))).toBe(
      "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    );
  });

  it("emits golden chunks and the last chunk with trailers", () => {
    expect(dec(emitChunk(enc("0123456789abcdefX")))).toBe("11\r\n0123456789abcdefX\r\n");
    expect(emitChunk(new Uint8Array(0)).length).toBe(0);
    expect(dec(emitLastChunk())).toBe("0\r\n\r\n");
    expect(dec(emitLastChunk([["X-Sum", "1"]]))).toBe("0\r\nX-Sum: 1\r\n\r\n");
  });

  it("refuses header values that would split the message", () => {
    expect(() => emitResponseHead({ status: 200, headers: [["X", "a\r\nSet-Cookie: evil"]] })).toThrow(
      expect.objectContaining({ code: "ERR_HTTP_INVALID_CHAR" }),
    );
    expect(() => emitResponseHead({ status: 200, headers: [["X Y", "a"]] })).toThrow(expect.objectContaining({ code: "ERR_HTTP_INVALID_HEADER_NAME" }));
    expect(() => emitRequestHead({ method: "GET", target: "/a b", headers: [] })).toThrow(expect.objectContaining({ code: "ERR_HTTP_INVALID_TARGET" }));
  });
});

describe("properties", () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const value = fc.stringMatching(/^[!-~]([ !-~]{0,20}[!-~])?$/);

  it("parses what the serializer emits, however the bytes are split", () => {
    fc.assert(
      fc.property(
        token,
        fc.stringMatching(/^\/[!-~]{0,30}$/),
        fc.array(fc.tuple(token, value), { maxLength: 8 }),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }),
        fc.array(fc.nat(400), { maxLength: 8 }),
        (method, target, extra, chunks, splits) => {
          const headers = [["Host", "h"], ...extra.filter(([n]) => !/^(host|content-length|transfer-encoding)$/i.test(n))] as [string, string][];
          const head = emitRequestHead({ method, target, headers: [...headers, ["Transfer-Encoding", "chunked"]] });
          const parts = [head, ...chunks.map(emitChunk), emitLastChunk([["X-T", "1"]])];
          const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            bytes.set(p, at);
            at += p.length;
          }
          const r = parseRequests(bytes, {}, splits);
          expect(r.error).toBeNull();
          expect(r.heads[0]!.method).toBe(method);
          expect(r.heads[0]!.target).toBe(target);
          expect(r.heads[0]!.headers.raw.slice(0, headers.length)).toEqual(headers);
          expect(r.bodies).toEqual([chunks.map(dec).join("")]);
          expect(r.trailers).toEqual([{ "x-t": "1" }]);
        },
      ),
    );
  });

  it("never throws on arbitrary bytes, for requests and responses", () => {
    const prefix = fc.constantFrom(
      "",
      "GET / HTTP/1.1\r\nHost: h\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\n",
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(400), { maxLength: 4 }), (p, bytes, splits) => {
        const input = new Uint8Array([...enc(p), ...bytes]);
        parseRequests(input, { maxHeaderBytes: 128, maxUriBytes: 64 }, splits);
        parseResponses(input, [], splits);
      }),
      { numRuns: 500 },
    );
  });
});

describe("createRequestParser() error verdicts", () => {
  it("reports a stray CR before a bare LF on the same line, however the input is cut (found by the chunking oracle)", () => {
    const input = new TextEncoder().encode("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r HTTP\n");
    for (let cut = 0; cut <= input.length; cut++) {
      const p = createRequestParser({ onHead: () => {}, onBody: () => {}, onComplete: () => {} });
      const a = p.push(input.subarray(0, cut));
      const r = a.ok ? p.push(input.subarray(cut)) : a;
      expect(r.ok ? "ok" : r.error, `cut at ${cut}`).toBe("bare-cr");
    }
  });
});

describe("createRequestParser() line budgets", () => {
  it("measures a chunk-size line at the limit the same whether or not its CR arrives alone (found by the chunking oracle)", () => {
    const head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const line = "1;" + "e".repeat(30);
    const input = new TextEncoder().encode(`${head}${line}\r\nx\r\n0\r\n\r\n`);
    for (let cut = head.length; cut <= input.length; cut++) {
      let done = 0;
      const p = createRequestParser(
        {
          onHead: () => {},
          onBody: () => {},
          onComplete: () => {
            done++;
          },
        },
        { maxChunkLineBytes: 32 },
      );
      const a = p.push(input.subarray(0, cut));
      const r = a.ok ? p.push(input.subarray(cut)) : a;
      expect(r.ok && done === 1, `cut at ${cut}: ${r.ok ? "" : r.error}`).toBe(true);
    }
  });
});

describe("createRequestParser() reports the first error in stream order", () => {
  const cases: Array<[string, string]> = [
    // An over-long line shows at its 33rd byte, before the stray CR after it.
    ["1;" + "e".repeat(31) + "\rh\n", "chunk-extension-too-long"],
    // A stray CR inside the budget shows before the line grows too long.
    ["1;e\rh" + "e".repeat(40) + "\r\n", "bare-cr"],
    // An over-long line ending in a bare LF: the length shows first.
    ["1;" + "e".repeat(40) + "\n", "chunk-extension-too-long"],
  ];
  for (const [line, expected] of cases) {
    it(`gives ${expected} for ${JSON.stringify(line.slice(0, 12))}… at every cut`, () => {
      const input = new TextEncoder().encode(`POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${line}x\r\n0\r\n\r\n`);
      for (let cut = 0; cut <= input.length; cut++) {
        const p = createRequestParser({ onHead: () => {}, onBody: () => {}, onComplete: () => {} }, { maxChunkLineBytes: 32 });
        const a = p.push(input.subarray(0, cut));
        const r = a.ok ? p.push(input.subarray(cut)) : a;
        expect(r.ok ? "ok" : r.error, `cut at ${cut}`).toBe(expected);
      }
    });
  }
});

describe("createRequestParser() chunk extensions (RFC 9112 §7.1.1)", () => {
  const parse = (line: string): string => {
    const p = createRequestParser({ onHead: () => {}, onBody: () => {}, onComplete: () => {} });
    const r = p.push(new TextEncoder().encode(`POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${line}\r\nabc\r\n0\r\n\r\n`));
    return r.ok ? "ok" : r.error;
  };
  it.each(["3;x", "3;x=y", "3 ; x = y ;z", '3;x="a \\" b"', "3;a=1;b=2"])("accepts %j", (line) => expect(parse(line)).toBe("ok"));
  it.each(["3;", "3;x=", "3;x:y", "3;xansfer-Encoding: chunked", '3;x="open', "3;x=y z", "3;=y"])(
    "refuses %j (llhttp refuses it too; found by the differential)",
    (line) => {
      expect(parse(line)).toBe("bad-chunk-extension");
    },
  );
});

describe("createRequestParser() OWS is SP and HTAB only (RFC 9110 §5.6.3)", () => {
  it("does not frame a Transfer-Encoding of NBSP + chunked as chunked (found by the llhttp differential)", () => {
    const bytes = Uint8Array.from("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\xa0chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", (c) => c.charCodeAt(0));
    let complete = 0;
    const p = createRequestParser({
      onHead: () => {},
      onBody: () => {},
      onComplete: () => {
        complete++;
      },
    });
    const r = p.push(bytes);
    expect(r.ok ? "ok" : r.error).not.toBe("ok");
    expect(complete).toBe(0);
  });
});
