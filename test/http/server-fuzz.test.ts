// Properties over the http-server fuzz target's oracles (see harness/fuzz/targets/http-server.ts):
// random bytes and near-HTTP byte soups never break the server's invariants.
import { describe, it } from "vitest";
import fc from "fast-check";
import { fuzz, seeds } from "../../harness/fuzz/targets/http-server.ts";

const FRAGMENTS = [
  "GET / HTTP/1.1\r\n",
  "POST /p HTTP/1.1\r\n",
  "HEAD /h HTTP/1.1\r\n",
  "GET / HTTP/1.0\r\n",
  "Host: h\r\n",
  "\r\n",
  "\n",
  "\r",
  "Content-Length: 3\r\n",
  "Content-Length: 0\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Connection: close\r\n",
  "Connection: keep-alive\r\n",
  "Expect: 100-continue\r\n",
  "3\r\nabc\r\n",
  "0\r\n\r\n",
  "ffffffffffffffffff\r\n",
  "abc",
  " ",
  "\t",
  ":",
  "X: y\r\n",
  " folded\r\n",
  "\x00",
  "Trailer: t\r\n",
];

describe("server fuzz oracles", () => {
  it("hold for the seeds", () => {
    for (const s of seeds()) fuzz(Buffer.from(s));
  });

  it("hold for arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        fuzz(Buffer.from(b));
      }),
    );
  });

  it("hold for soups of HTTP fragments", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 30 }), (parts) => {
        fuzz(Buffer.from(parts.join(""), "latin1"));
      }),
    );
  });
});
