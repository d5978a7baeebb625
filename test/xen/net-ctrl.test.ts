// The netif control ring served by netback (Linux hash.c semantics) and the Toeplitz hash it
// then delivers to the guest in an XEN_NETIF_EXTRA_TYPE_HASH extra-info slot.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import {
  NETRXF_extra_info,
  NETRXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_HASH,
} from "../../xen-sim/abi/netif.ts";
import { initSharedRing } from "../../xen-sim/ring/ring.ts";
import {
  createCtrlServer,
  frameHash,
  createHashState,
  HASH_TYPE_IPV4,
  HASH_TYPE_IPV4_TCP,
  toeplitzHash,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER as INVALID,
  XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED as NOT_SUPPORTED,
  XEN_NETIF_CTRL_STATUS_SUCCESS as SUCCESS,
  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS as GET_FLAGS,
  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE as GET_MAP_SIZE,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM as SET_ALG,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS as SET_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY as SET_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING as SET_MAP,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE as SET_MAP_SIZE,
} from "../../xen-sim/net/netif-ctrl.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend } from "./fake-frontend.ts";
import { dom0World } from "./helpers.ts";

/** Microsoft's RSS verification key and its published IPv4 and IPv4+TCP results. */
const MS_KEY = Uint8Array.from("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa".match(/../g)!.map((h) => parseInt(h, 16)));
const VECTORS: { src: [number, number, number, number, number]; dst: [number, number, number, number, number]; ipv4: number; tcp: number }[] = [
  { dst: [161, 142, 100, 80, 1766], src: [66, 9, 149, 187, 2794], ipv4: 0x323e8fc2, tcp: 0x51ccc178 },
  { dst: [65, 69, 140, 83, 4739], src: [199, 92, 111, 2, 14230], ipv4: 0xd718262a, tcp: 0xc626b0ea },
  { dst: [12, 22, 207, 184, 38024], src: [24, 19, 198, 95, 12898], ipv4: 0xd2d0a5de, tcp: 0x5c2b394a },
  { dst: [209, 142, 163, 6, 2217], src: [38, 27, 205, 30, 48228], ipv4: 0x82989176, tcp: 0xafc7327f },
  { dst: [202, 188, 127, 2, 1303], src: [153, 39, 163, 191, 44251], ipv4: 0x5d1809c5, tcp: 0x10e828a2 },
];

/** An Ethernet + IPv4 + TCP frame from src to dst (headers only matter here). */
function tcpFrame(src: readonly number[], dst: readonly number[], fragment = false): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20);
  f[12] = 0x08;
  f[14] = 0x45;
  f[16] = 0;
  f[17] = 40;
  if (fragment) f[20] = 0x20; // more fragments
  f[22] = 64;
  f[23] = 6;
  f.set(src.slice(0, 4), 26);
  f.set(dst.slice(0, 4), 30);
  f[34] = src[4]! >> 8;
  f[35] = src[4]! & 255;
  f[36] = dst[4]! >> 8;
  f[37] = dst[4]! & 255;
  return f;
}

describe("the Toeplitz hash (netif.h xen_netif_toeplitz_hash)", () => {
  it("gives Microsoft's RSS verification results for IPv4 and IPv4+TCP", () => {
    for (const v of VECTORS) {
      const ip = Uint8Array.from([...v.src.slice(0, 4), ...v.dst.slice(0, 4)]);
      expect(toeplitzHash(MS_KEY, ip)).toBe(v.ipv4);
      const tcp = Uint8Array.from([...ip, v.src[4] >> 8, v.src[4] & 255, v.dst[4] >> 8, v.dst[4] & 255]);
      expect(toeplitzHash(MS_KEY, tcp)).toBe(v.tcp);
    }
  });

  it("hashes a frame by the most specific type the flags allow; fragments and no flags get the address hash or none", () => {
    const st = createHashState();
    st.key.set(MS_KEY);
    const v = VECTORS[0]!;
    const f = tcpFrame(v.src, v.dst);
    expect(frameHash(st, f)).toBeUndefined(); // algorithm none
    st.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
    expect(frameHash(st, f)).toBeUndefined(); // no flags
    st.flags = (1 << HASH_TYPE_IPV4) | (1 << HASH_TYPE_IPV4_TCP);
    expect(frameHash(st, f)).toEqual({ value: v.tcp, type: HASH_TYPE_IPV4_TCP });
    expect(frameHash(st, tcpFrame(v.src, v.dst, true))).toEqual({ value: v.ipv4, type: HASH_TYPE_IPV4 });
    st.flags = 1 << HASH_TYPE_IPV4_TCP;
    expect(frameHash(st, tcpFrame(v.src, v.dst, true))).toBeUndefined();
    expect(frameHash(st, f.subarray(0, 20))).toBeUndefined(); // runt
    const badIhl = f.slice();
    badIhl[14] = 0x44; // header length 16 bytes
    expect(frameHash(st, badIhl)).toBeUndefined();
  });
});

async function ctrlWorld(options: Parameters<typeof connectFakeFrontend>[4] = { ctrl: true }) {
  const w = dom0World(3);
  const nb = w.startNetback();
  const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "rss" })));
  const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000aa })));
  const ff = await connectFakeFrontend(w.clock, w.ts, g, dev, options);
  const vif = nb.vif(g.id, 0)!;
  const page = ff.ctrl?.page;
  const idx = page === undefined ? undefined : new Uint32Array(page.buffer, page.byteOffset, 4);
  let prod = 0;
  /** Publishes requests (type, data[3]) from the current producer, kicks, and returns the answers [id, type, status, data]. */
  const call = async (reqs: [number, number?, number?, number?][]): Promise<[number, number, number, number][]> => {
    const dv = new DataView(page!.buffer, page!.byteOffset, 4096);
    const first = prod;
    for (const [type, d0 = 0, d1 = 0, d2 = 0] of reqs) {
      const at = 64 + (prod & 127) * 16;
      dv.setUint16(at, 100 + prod, true);
      dv.setUint16(at + 2, type, true);
      dv.setUint32(at + 4, d0, true);
      dv.setUint32(at + 8, d1, true);
      dv.setUint32(at + 12, d2, true);
      prod++;
    }
    Atomics.store(idx!, 0, prod);
    ff.ctrl!.kick();
    await pumpUntil(w.clock, () => Atomics.load(idx!, 2) === prod, { maxIterations: 100 });
    const out: [number, number, number, number][] = [];
    for (let i = first; i < prod; i++) {
      const at = 64 + (i & 127) * 16;
      out.push([dv.getUint16(at, true), dv.getUint16(at + 2, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true)]);
    }
    return out;
  };
  return { ...w, nb, g, dev, ff, vif, call };
}

describe("netback's control ring", () => {
  it("answers every request as Linux does: algorithm first, flags, key, mapping size and table, unknown types", async () => {
    const h = await ctrlWorld();
    expect(h.vif.connected).toBe(true);
    expect(h.ts.dom0.grants.mappingCount).toBe(3);
    const keyPageRef = (() => {
      const f = unwrap(h.g.domain.memory.allocPage());
      unwrap(h.g.domain.memory.page(f)).set(MS_KEY);
      return unwrap(h.g.domain.grants.grantAccess(0, f));
    })();
    const mapRef = (() => {
      const f = unwrap(h.g.domain.memory.allocPage());
      const p = unwrap(h.g.domain.memory.page(f));
      new Uint32Array(p.buffer, p.byteOffset, 4).set([0, 0, 1, 0]);
      return unwrap(h.g.domain.grants.grantAccess(0, f));
    })();
    const answers = await h.call([
      [GET_FLAGS], // no algorithm yet
      [SET_FLAGS, 2], // no algorithm yet
      [SET_ALG, 2], // no such algorithm
      [SET_ALG, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ],
      [GET_FLAGS],
      [SET_FLAGS, 0x10], // unknown hash type
      [SET_FLAGS, (1 << HASH_TYPE_IPV4) | (1 << HASH_TYPE_IPV4_TCP)],
      [SET_KEY, keyPageRef, 41], // longer than 40
      [SET_KEY, 99999, 40], // no such grant
      [SET_KEY, keyPageRef, 40],
      [GET_MAP_SIZE],
      [SET_MAP_SIZE, 129],
      [SET_MAP_SIZE, 8],
      [SET_MAP, mapRef, 2, 0], // entries 0, 0
      [SET_MAP, mapRef, 3, 0], // entry 1: the vif has one queue
      [SET_MAP, mapRef, 2, 7], // beyond the 8 entries
      [8], // GET_GREF_MAPPING_SIZE: not served
      [0], // INVALID
    ]);
    expect(answers.map(([, type, status, data]) => [type, status, data])).toEqual([
      [GET_FLAGS, NOT_SUPPORTED, 0],
      [SET_FLAGS, INVALID, 0],
      [SET_ALG, INVALID, 0],
      [SET_ALG, SUCCESS, 0],
      [GET_FLAGS, SUCCESS, 0xf],
      [SET_FLAGS, INVALID, 0],
      [SET_FLAGS, SUCCESS, 0],
      [SET_KEY, INVALID, 0],
      [SET_KEY, INVALID, 0],
      [SET_KEY, SUCCESS, 0],
      [GET_MAP_SIZE, SUCCESS, 128],
      [SET_MAP_SIZE, INVALID, 0],
      [SET_MAP_SIZE, SUCCESS, 0],
      [SET_MAP, SUCCESS, 0],
      [SET_MAP, INVALID, 0],
      [SET_MAP, INVALID, 0],
      [8, NOT_SUPPORTED, 0],
      [0, NOT_SUPPORTED, 0],
    ]);
    // Ids are echoed.
    expect(answers.map(([id]) => id)).toEqual(answers.map((_, i) => 100 + i));
    expect(h.peerErrors).toEqual([]);

    // A TCP frame toward the guest now carries its hash in an extra-info slot after the data slot's flags.
    const rxRefs = [h.ff.grantPage(0), h.ff.grantPage(0)];
    h.ff.writeRxSlots(
      0,
      rxRefs.map((ref, i) => {
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint16(0, i, true);
        v.setUint32(4, ref, true);
        return b;
      }),
    );
    h.ff.setRxReqProd(2);
    const vec = VECTORS[1]!;
    h.vif.device.send({ data: tcpFrame(vec.src, vec.dst) });
    const rxIdx = new Uint32Array(h.ff.rxPage.buffer, h.ff.rxPage.byteOffset, 4);
    await pumpUntil(h.clock, () => Atomics.load(rxIdx, 2) === 2, { maxIterations: 100 });
    const rsp = new DataView(h.ff.rxPage.buffer, h.ff.rxPage.byteOffset + 64, 16);
    expect(rsp.getUint16(4, true) & NETRXF_extra_info).toBe(NETRXF_extra_info);
    expect(rsp.getUint16(4, true) & NETRXF_more_data).toBe(0);
    expect(rsp.getInt16(6, true)).toBe(54);
    expect([rsp.getUint8(8), rsp.getUint8(9), rsp.getUint8(10), rsp.getUint8(11), rsp.getUint32(12, true)]).toEqual([
      XEN_NETIF_EXTRA_TYPE_HASH,
      0,
      HASH_TYPE_IPV4_TCP,
      XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
      vec.tcp,
    ]);
    expect(h.vif.stats().rxHashes).toBe(1);
  });

  it("chains the hash after a GSO extra (GSO first, flagged MORE), as Linux orders extras by type", async () => {
    const h = await ctrlWorld();
    const keyPageRef = (() => {
      const f = unwrap(h.g.domain.memory.allocPage());
      unwrap(h.g.domain.memory.page(f)).set(MS_KEY);
      return unwrap(h.g.domain.grants.grantAccess(0, f));
    })();
    await h.call([
      [SET_ALG, 1],
      [SET_FLAGS, 1 << HASH_TYPE_IPV4_TCP],
      [SET_KEY, keyPageRef, 40],
    ]);
    const refs = [0, 1, 2].map(() => h.ff.grantPage(0));
    h.ff.writeRxSlots(
      0,
      refs.map((ref, i) => {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setUint16(0, i, true);
        new DataView(b.buffer).setUint32(4, ref, true);
        return b;
      }),
    );
    h.ff.setRxReqProd(3);
    const vec = VECTORS[2]!;
    const big = new Uint8Array(3000);
    big.set(tcpFrame(vec.src, vec.dst));
    h.vif.device.send({ data: big, offload: { gsoSize: 1448, csumBlank: true } });
    const rxIdx = new Uint32Array(h.ff.rxPage.buffer, h.ff.rxPage.byteOffset, 4);
    // One data slot (3000 bytes), the GSO extra, the hash extra.
    await pumpUntil(h.clock, () => Atomics.load(rxIdx, 2) === 3, { maxIterations: 100 });
    const rsp = new DataView(h.ff.rxPage.buffer, h.ff.rxPage.byteOffset + 64, 24);
    expect(rsp.getUint16(4, true) & NETRXF_extra_info).toBe(NETRXF_extra_info);
    expect([rsp.getUint8(8), rsp.getUint8(9) & XEN_NETIF_EXTRA_FLAG_MORE, rsp.getUint16(10, true)]).toEqual([
      XEN_NETIF_EXTRA_TYPE_GSO,
      XEN_NETIF_EXTRA_FLAG_MORE,
      1448,
    ]);
    expect([rsp.getUint8(16), rsp.getUint8(17), rsp.getUint8(18), rsp.getUint32(20, true)]).toEqual([
      XEN_NETIF_EXTRA_TYPE_HASH,
      0,
      HASH_TYPE_IPV4_TCP,
      vec.tcp,
    ]);
  });

  it("a ctrl producer index beyond the ring disconnects the frontend and unmaps all three rings", async () => {
    const h = await ctrlWorld();
    const page = h.ff.ctrl!.page;
    Atomics.store(new Uint32Array(page.buffer, page.byteOffset, 4), 0, 5000);
    h.ff.ctrl!.kick();
    await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
    expect(h.peerErrors).toEqual([{ domid: h.g.id, devid: 0, reason: "ill-behaved-peer", detail: "ctrl req_prod beyond the ring", fatal: true }]);
    expect(h.ts.dom0.grants.mappingCount).toBe(0);
  });

  it("malformed or dangling ctrl keys are refused at connect: the frontend is closed, nothing stays mapped", async () => {
    for (const [keys, reason] of [
      [{ "ctrl-ring-ref": "seven", "event-channel-ctrl": "3" }, "bad-keys"],
      [{ "ctrl-ring-ref": "4000" }, "bad-keys"],
      [{ "ctrl-ring-ref": "4000", "event-channel-ctrl": "3" }, "bad-ctrl-ring-ref"],
      // A real ring page but an event channel the guest never allocated.
      [{ "event-channel-ctrl": "77" }, "bad-event-channel"],
    ] as const) {
      const h = await ctrlWorld(reason === "bad-event-channel" ? { ctrl: true, ctrlKeys: keys } : { ctrlKeys: keys });
      await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
      expect(h.peerErrors.map((e) => [e.reason, e.fatal])).toEqual([[reason, true]]);
      expect(h.ts.dom0.grants.mappingCount).toBe(0);
    }
  });

  it("event-channel-ctrl without ctrl-ring-ref is ignored, as Linux does: the vif connects without a control ring", async () => {
    const w = dom0World(4);
    const nb = w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "half" })));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000ab })));
    await connectFakeFrontend(w.clock, w.ts, g, dev, { ctrlKeys: { "event-channel-ctrl": "5" } });
    await pumpUntil(w.clock, () => nb.vif(g.id, 0)?.state === XenbusState.Connected);
    expect(nb.vif(g.id, 0)!.connected).toBe(true);
    expect(w.peerErrors).toEqual([]);
    expect(w.ts.dom0.grants.mappingCount).toBe(2);
  });
});

describe("the control server's budget", () => {
  it("answers at most `budget` requests per poll and says more are waiting, so a busy frontend cannot hold dom0", () => {
    const page = new Uint8Array(new SharedArrayBuffer(4096));
    initSharedRing(page);
    const server = createCtrlServer({ page, startIndex: 0, queues: 1, copyFromGrant: () => ({ ok: false, error: "none" }) });
    const dv = new DataView(page.buffer);
    for (let i = 0; i < 5; i++) {
      dv.setUint16(64 + i * 16, i, true);
      dv.setUint16(66 + i * 16, GET_MAP_SIZE, true);
    }
    Atomics.store(new Uint32Array(page.buffer, 0, 4), 0, 5);
    expect(server.poll(2)).toEqual({ ok: true, value: { notify: true, more: true } });
    expect(server.answered).toBe(2);
    expect(server.poll(2)).toMatchObject({ ok: true, value: { more: true } });
    expect(server.poll(2)).toMatchObject({ ok: true, value: { more: false } });
    expect(server.answered).toBe(5);
    expect(Atomics.load(new Uint32Array(page.buffer, 0, 4), 2)).toBe(5);
  });
});
