import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createXenstoreServer } from "./server.ts";
import { XS_ERROR, XS_READ, XS_WRITE, createXsDecoder, emitXsMessage, fromLatin1, joinStrings, parseXsHeader, splitStrings } from "./wire.ts";

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .replace(/\s+/g, "")
      .match(/../g)!
      .map((b) => parseInt(b, 16)),
  );
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// xen-abi.md §6: captured bytes of `XENSTORED_PATH=sock xenstore-read /foo`.
const CAPTURED_READ_FOO = hex("02000000 00000000 00000000 05000000 2f666f6f00");

describe("xenstore wire format", () => {
  it("emitXsMessage() produces the bytes xenstore-read sends for /foo", () => {
    expect(toHex(emitXsMessage(XS_READ, 0, 0, joinStrings(["/foo"])))).toBe(toHex(CAPTURED_READ_FOO));
  });

  it("parseXsHeader() reads the captured header little-endian", () => {
    const h = parseXsHeader(CAPTURED_READ_FOO);
    expect(h).toEqual({ ok: true, value: { type: 2, reqId: 0, txId: 0, len: 5 } });
    expect(parseXsHeader(CAPTURED_READ_FOO.subarray(0, 15))).toEqual({ ok: false, error: "truncated" });
  });

  it("the decoder frames the captured message delivered one byte at a time", () => {
    const d = createXsDecoder();
    const seen: number[] = [];
    for (let i = 0; i < CAPTURED_READ_FOO.length; i++) {
      const r = d.push(CAPTURED_READ_FOO.subarray(i, i + 1));
      expect(r.ok).toBe(true);
      if (r.ok) for (const m of r.value) seen.push(i, m.type, m.payload.length);
    }
    expect(seen).toEqual([CAPTURED_READ_FOO.length - 1, 2, 5]);
    expect(d.buffered).toBe(0);
  });

  it("the decoder returns every message of a chunk holding several, and keeps a partial header", () => {
    const a = emitXsMessage(XS_WRITE, 1, 2, fromLatin1("/a\0x"));
    const b = emitXsMessage(XS_READ, 3, 0, joinStrings(["/a"]));
    const stream = new Uint8Array([...a, ...b, ...b.subarray(0, 7)]);
    const d = createXsDecoder();
    const r = d.push(stream);
    expect(r.ok && r.value.map((m) => [m.type, m.reqId, m.txId, toHex(m.payload)])).toEqual([
      [11, 1, 2, "2f610078"],
      [2, 3, 0, "2f6100"],
    ]);
    expect(d.buffered).toBe(7);
    const r2 = d.push(b.subarray(7));
    expect(r2.ok && r2.value.length).toBe(1);
  });

  it("a header announcing more than 4096 bytes is a fatal framing error", () => {
    const d = createXsDecoder();
    const bad = hex("02000000 00000000 00000000 01100000");
    expect(d.push(bad)).toMatchObject({ ok: false, error: "payload-too-long" });
    expect(d.failed).toBe(true);
    expect(d.push(CAPTURED_READ_FOO).ok).toBe(false);
  });

  it("a zero-length message is framed with an empty payload", () => {
    const r = createXsDecoder().push(hex("01000000 09000000 00000000 00000000"));
    expect(r.ok && r.value.map((m) => [m.type, m.reqId, m.payload.length])).toEqual([[1, 9, 0]]);
  });

  it("splitStrings() requires a final NUL; joinStrings() terminates each string", () => {
    expect(splitStrings(fromLatin1("a\0bc\0"))).toEqual(["a", "bc"]);
    expect(splitStrings(fromLatin1("a\0bc"))).toBeNull();
    expect(splitStrings(new Uint8Array(0))).toBeNull();
    expect(toHex(joinStrings(["OK"]))).toBe("4f4b00");
  });
});

describe("xenstore server on hostile byte streams", () => {
  it("a message longer than 4096 bytes closes that connection only; the server keeps serving others", () => {
    const server = createXenstoreServer();
    let closed = "";
    const out: Uint8Array[] = [];
    const bad = server.connect(0, {
      send: (b) => out.push(b),
      close: (r) => {
        closed = r;
      },
    });
    bad.receive(new Uint8Array([...CAPTURED_READ_FOO, ...hex("0b000000 00000000 00000000 01100000")]));
    expect(out.map(toHex)).toEqual([toHex(emitXsMessage(XS_ERROR, 0, 0, joinStrings(["ENOENT"])))]);
    expect(closed).toBe("payload-too-long");
    expect(bad.closed).toBe(true);
    expect(server.stats().closedForMalformed).toBe(1);
    const good: Uint8Array[] = [];
    const g = server.connect(0, { send: (b) => good.push(b), close: () => {} });
    g.receive(emitXsMessage(XS_WRITE, 5, 0, fromLatin1("/foo\0bar")));
    g.receive(CAPTURED_READ_FOO);
    expect(good.map(toHex)).toEqual([toHex(emitXsMessage(XS_WRITE, 5, 0, joinStrings(["OK"]))), toHex(emitXsMessage(XS_READ, 0, 0, fromLatin1("bar")))]);
  });

  it("arbitrary byte streams in arbitrary chunks never throw, and a fresh connection is still served", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc
              .record({
                type: fc.nat(30),
                reqId: fc.nat(),
                txId: fc.nat(3),
                payload: fc.oneof(
                  fc.uint8Array({ maxLength: 40 }),
                  fc.constantFrom(
                    fromLatin1("/a\0"),
                    fromLatin1("/a/b\0v"),
                    fromLatin1("/a\0tok\0"),
                    fromLatin1("/a\0b1\0"),
                    fromLatin1("\0"),
                    fromLatin1("T\0"),
                    fromLatin1("/a\0" + "0\0"),
                  ),
                ),
              })
              .map((m) => emitXsMessage(m.type, m.reqId, m.txId, m.payload)),
          ),
          { maxLength: 30 },
        ),
        fc.integer({ min: 0, max: 3 }),
        (chunks, domid) => {
          const server = createXenstoreServer({ quotas: { maxEntries: 20 } });
          const conn = server.connect(domid, { send: () => {}, close: () => {} });
          const d = createXsDecoder();
          for (const c of chunks) {
            const r = d.push(c);
            expect(typeof r.ok).toBe("boolean");
            conn.receive(c);
          }
          const replies: Uint8Array[] = [];
          const fresh = server.connect(0, { send: (b) => replies.push(b), close: () => {} });
          fresh.receive(emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/probe\0ok")));
          fresh.receive(emitXsMessage(XS_READ, 2, 0, joinStrings(["/probe"])));
          expect(toHex(replies[1]!)).toBe(toHex(emitXsMessage(XS_READ, 2, 0, fromLatin1("ok"))));
        },
      ),
      { numRuns: 300 },
    );
  });
});
