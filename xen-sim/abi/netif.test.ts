import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import {
  emitNetifExtraInfo,
  emitNetifRxRequest,
  emitNetifRxResponse,
  emitNetifTxRequest,
  emitNetifTxResponse,
  NETIF_RSP_DROPPED,
  NETTXF_csum_blank,
  NETTXF_more_data,
  parseNetifExtraInfo,
  parseNetifRxRequest,
  parseNetifRxResponse,
  parseNetifTxRequest,
  parseNetifTxResponse,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_HASH,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "./netif.ts";

describe("netif structs", () => {
  it("a tx request is gref 0, offset 4, flags 6, id 8, size 10 (12 bytes, little-endian)", () => {
    const b = new Uint8Array(12);
    const req = { gref: 0x01020304, offset: 0x0506, flags: NETTXF_csum_blank | NETTXF_more_data, id: 0x0708, size: 0x090a };
    emitNetifTxRequest(req, b);
    expect([...b]).toEqual([4, 3, 2, 1, 6, 5, 5, 0, 8, 7, 0x0a, 9]);
    expect(unwrap(parseNetifTxRequest(b))).toEqual(req);
    expect(parseNetifTxRequest(b.subarray(0, 11))).toMatchObject({ ok: false, error: "truncated" });
  });

  it("a tx response is id 0, signed status 2", () => {
    const b = new Uint8Array(4);
    emitNetifTxResponse({ id: 0x1234, status: NETIF_RSP_DROPPED }, b);
    expect([...b]).toEqual([0x34, 0x12, 0xfe, 0xff]);
    expect(unwrap(parseNetifTxResponse(b))).toEqual({ id: 0x1234, status: -2 });
  });

  it("an rx request is id 0, pad 2, gref 4; an rx response id 0, offset 2, flags 4, status 6", () => {
    const rq = new Uint8Array(8).fill(0xff);
    emitNetifRxRequest({ id: 3, gref: 0xa0b0c0d0 }, rq);
    expect([...rq]).toEqual([3, 0, 0, 0, 0xd0, 0xc0, 0xb0, 0xa0]);
    expect(unwrap(parseNetifRxRequest(rq))).toEqual({ id: 3, gref: 0xa0b0c0d0 });
    const rs = new Uint8Array(8);
    emitNetifRxResponse({ id: 1, offset: 2, flags: 3, status: 1514 }, rs);
    expect([...rs]).toEqual([1, 0, 2, 0, 3, 0, 0xea, 0x05]);
    expect(unwrap(parseNetifRxResponse(rs))).toEqual({ id: 1, offset: 2, flags: 3, status: 1514 });
  });

  it("extra info encodes gso (size 2, type 4, pad 5, features 6), mcast (addr 2..7) and hash (type 2, alg 3, value 4)", () => {
    const b = new Uint8Array(8);
    const gso = { type: XEN_NETIF_EXTRA_TYPE_GSO, flags: XEN_NETIF_EXTRA_FLAG_MORE, gso: { size: 1448, type: XEN_NETIF_GSO_TYPE_TCPV4, features: 0 } };
    emitNetifExtraInfo(gso, b);
    expect([...b]).toEqual([1, 1, 0xa8, 0x05, 1, 0, 0, 0]);
    expect(unwrap(parseNetifExtraInfo(b))).toEqual(gso);
    const mc = { type: XEN_NETIF_EXTRA_TYPE_MCAST_ADD, flags: 0, mcastAddr: 0x01005e000001 };
    emitNetifExtraInfo(mc, b);
    expect([...b]).toEqual([2, 0, 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
    expect(unwrap(parseNetifExtraInfo(b))).toEqual(mc);
    const h = { type: XEN_NETIF_EXTRA_TYPE_HASH, flags: 0, hash: { type: 1, algorithm: 1, value: 0xdeadbeef } };
    emitNetifExtraInfo(h, b);
    expect([...b]).toEqual([4, 0, 1, 1, 0xef, 0xbe, 0xad, 0xde]);
    expect(unwrap(parseNetifExtraInfo(b))).toEqual(h);
    expect(unwrap(parseNetifExtraInfo(new Uint8Array([9, 0, 1, 2, 3, 4, 5, 6])))).toEqual({ type: 9, flags: 0, raw: new Uint8Array([1, 2, 3, 4, 5, 6]) });
  });
});
