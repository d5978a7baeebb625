import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import {
  XENSTORE_CONNECTION,
  XENSTORE_ERROR,
  XENSTORE_REQ,
  XENSTORE_REQ_CONS,
  XENSTORE_REQ_PROD,
  XENSTORE_RSP,
  XENSTORE_RSP_CONS,
  XENSTORE_RSP_PROD,
  XENSTORE_SERVER_FEATURES,
} from "../abi/xenstore.ts";
import { createXenstoreClient } from "./client.ts";
import {
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_RECONNECT,
  createXenstoreRingBackend,
  createXenstoreRingFrontend,
  initXenstoreRingPage,
} from "./ring.ts";
import { createXenstoreServer } from "./server.ts";
import { XS_READ, XS_WRITE, createXsDecoder, emitXsMessage, fromLatin1, joinStrings } from "./wire.ts";

const u32 = (page: Uint8Array, off: number): number => new DataView(page.buffer, page.byteOffset).getUint32(off, true);
const setU32 = (page: Uint8Array, off: number, v: number): void => new DataView(page.buffer, page.byteOffset).setUint32(off, v >>> 0, true);

function sharedPage(): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(4096));
}

/** Server and guest joined by a page; notifications are delivered as microtasks, as an event channel's upcall would. */
function connect(domid = 1, page = sharedPage(), startIndex = 0) {
  initXenstoreRingPage(page);
  for (const off of [XENSTORE_REQ_CONS, XENSTORE_REQ_PROD, XENSTORE_RSP_CONS, XENSTORE_RSP_PROD]) setU32(page, off, startIndex);
  const server = createXenstoreServer();
  const counts = { toGuest: 0, toServer: 0 };
  let front: ReturnType<typeof createXenstoreRingFrontend> | undefined;
  const back = createXenstoreRingBackend({
    server,
    domid,
    page,
    notify: () => {
      counts.toGuest++;
      queueMicrotask(() => front?.kick());
    },
  });
  front = createXenstoreRingFrontend({
    page,
    notify: () => {
      counts.toServer++;
      queueMicrotask(() => back.kick());
    },
  });
  return { server, page, back, front, counts };
}

describe("xenstore over a shared ring page", () => {
  it("a guest client writes and reads through the page; the server advertises reconnection and error reporting", async () => {
    const { server, page, front } = connect(0);
    expect(u32(page, XENSTORE_SERVER_FEATURES)).toBe(3);
    const c = createXenstoreClient(front);
    expect(await c.write("/local/domain/0/name", "dom0")).toEqual(ok(undefined));
    expect(await c.read("name")).toEqual(ok("dom0"));
    expect(new TextDecoder().decode(server.peek("/local/domain/0/name"))).toBe("dom0");
    const req = emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/local/domain/0/name\0dom0"));
    expect(u32(page, XENSTORE_REQ_CONS)).toBe(u32(page, XENSTORE_REQ_PROD));
    expect([...page.subarray(XENSTORE_REQ, XENSTORE_REQ + req.length)]).toEqual([...req]);
    expect(u32(page, XENSTORE_RSP_CONS)).toBe(u32(page, XENSTORE_RSP_PROD));
  });

  it("indices wrap around the 1024-byte rings and past 2^32 without losing or reordering bytes", async () => {
    const { server, page, front } = connect(0, sharedPage(), 0xffffff00);
    const c = createXenstoreClient(front);
    const values: string[] = [];
    for (let i = 0; i < 40; i++) {
      const v = `${i}:`.padEnd(200 + ((i * 37) % 600), String.fromCharCode(97 + (i % 26)));
      values.push(v);
      expect(await c.write(`/w/${i}`, v)).toEqual(ok(undefined));
    }
    const reads = await Promise.all(values.map((_, i) => c.read(`/w/${i}`)));
    expect(reads).toEqual(values.map((v) => ok(v)));
    expect(u32(page, XENSTORE_REQ_PROD)).toBeLessThan(0xffffff00);
    expect(u32(page, XENSTORE_RSP_PROD)).toBeLessThan(0xffffff00);
    expect(server.stats().errors).toBe(0);
  });

  it("a 4096-byte value crosses the 1024-byte ring in several rounds", async () => {
    const { front } = connect(0);
    const c = createXenstoreClient(front);
    const big = "z".repeat(4000);
    expect(await c.write("/big", big)).toEqual(ok(undefined));
    expect(await c.read("/big")).toEqual(ok(big));
  });

  it("watch events reach the guest over the ring", async () => {
    const { server, front } = connect(0);
    const c = createXenstoreClient(front);
    const seen: string[] = [];
    unwrap(await c.watch("device", (p) => seen.push(p)));
    server.introduceDomain(0);
    expect(await c.write("/local/domain/0/device/vif/0/state", "1")).toEqual(ok(undefined));
    expect(seen).toEqual(["device", "device/vif/0/state"]);
  });

  it("a guest claiming more than 1024 unconsumed request bytes is cut off with XENSTORE_ERROR_RINGIDX", () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    const server = createXenstoreServer();
    let notified = 0;
    const back = createXenstoreRingBackend({ server, domid: 3, page, notify: () => notified++ });
    setU32(page, XENSTORE_REQ_PROD, 1025);
    back.kick();
    expect(back.fault).toBe("bad-req-index");
    expect(u32(page, XENSTORE_ERROR)).toBe(XENSTORE_ERROR_RINGIDX);
    expect(back.connection.closed).toBe(true);
    expect(notified).toBe(1);
    setU32(page, XENSTORE_REQ_PROD, 0);
    back.kick();
    expect(u32(page, XENSTORE_REQ_CONS)).toBe(0);
  });

  it("a guest whose rsp_cons runs ahead of rsp_prod is cut off (bad-rsp-index) when the server has output", () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    const server = createXenstoreServer();
    const back = createXenstoreRingBackend({ server, domid: 0, page, notify: () => {} });
    const req = emitXsMessage(XS_READ, 1, 0, joinStrings(["/"]));
    page.set(req, XENSTORE_REQ);
    setU32(page, XENSTORE_RSP_CONS, 5000);
    setU32(page, XENSTORE_REQ_PROD, req.length);
    back.kick();
    expect(back.fault).toBe("bad-rsp-index");
    expect(u32(page, XENSTORE_ERROR)).toBe(XENSTORE_ERROR_RINGIDX);
  });

  it("an oversized message sets XENSTORE_ERROR_PROTO and stops serving that ring only", async () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    const server = createXenstoreServer();
    const back = createXenstoreRingBackend({ server, domid: 0, page, notify: () => {} });
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(12, 4097, true);
    page.set(hdr, XENSTORE_REQ);
    setU32(page, XENSTORE_REQ_PROD, 16);
    back.kick();
    expect(back.fault).toBe("payload-too-long");
    expect(u32(page, XENSTORE_ERROR)).toBe(XENSTORE_ERROR_PROTO);
    const other = connect(0);
    expect(await createXenstoreClient(other.front).write("/fine", "1")).toEqual(ok(undefined));
  });

  it("request bytes the guest scribbles over after the server consumed them are not read again", () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    const server = createXenstoreServer();
    const dec = createXsDecoder();
    const replies: string[] = [];
    const back = createXenstoreRingBackend({
      server,
      domid: 0,
      page,
      notify: () => {
        const prod = u32(page, XENSTORE_RSP_PROD);
        const r = dec.push(page.slice(XENSTORE_RSP, XENSTORE_RSP + prod));
        if (r.ok) for (const m of r.value) replies.push(new TextDecoder().decode(m.payload));
        setU32(page, XENSTORE_RSP_CONS, prod);
        page.fill(0xff, XENSTORE_REQ, XENSTORE_REQ + 64);
      },
    });
    const req = emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/x\0safe"));
    page.set(req, XENSTORE_REQ);
    setU32(page, XENSTORE_REQ_PROD, req.length);
    back.kick();
    back.kick();
    expect(replies).toEqual(["OK\0"]);
    expect(new TextDecoder().decode(server.peek("/x"))).toBe("safe");
  });

  it("a guest that sets connection=XENSTORE_RECONNECT gets a fresh connection: watches dropped, indices zeroed", async () => {
    const { server, page, back, front } = connect(0);
    const c = createXenstoreClient(front);
    await c.watch("/w", () => {});
    await c.transaction(async (tx) => {
      await tx.write("/x", "1");
      return ok(undefined);
    });
    expect(server.stats().watches).toBe(1);
    const before = back.connection;
    setU32(page, XENSTORE_CONNECTION, XENSTORE_RECONNECT);
    back.kick();
    expect(before.closed).toBe(true);
    expect(back.connection.closed).toBe(false);
    expect(server.stats().watches).toBe(0);
    expect(u32(page, XENSTORE_CONNECTION)).toBe(0);
    expect([u32(page, XENSTORE_REQ_CONS), u32(page, XENSTORE_REQ_PROD), u32(page, XENSTORE_RSP_CONS), u32(page, XENSTORE_RSP_PROD)]).toEqual([0, 0, 0, 0]);
  });

  it("works over a plain (non-shared) ArrayBuffer page too", async () => {
    const { front } = connect(0, new Uint8Array(4096));
    const c = createXenstoreClient(front);
    expect(await c.write("/p", "v")).toEqual(ok(undefined));
    expect(await c.read("/p")).toEqual(ok("v"));
    expect(await c.read("/nope")).toEqual(err("ENOENT"));
  });

  it("the backend stops reading requests while more than maxQueuedOutput bytes of replies wait for the guest", () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    const server = createXenstoreServer();
    const back = createXenstoreRingBackend({ server, domid: 0, page, notify: () => {} }, { maxQueuedOutput: 1024 });
    const big = new Uint8Array(1000).fill(0x61);
    const w = emitXsMessage(XS_WRITE, 1, 0, new Uint8Array([...fromLatin1("/b\0"), ...big]));
    const rd = emitXsMessage(XS_READ, 2, 0, joinStrings(["/b"]));
    let prod = 0;
    const put = (m: Uint8Array) => {
      for (const b of m) page[XENSTORE_REQ + (prod++ & 1023)] = b;
      setU32(page, XENSTORE_REQ_PROD, prod);
    };
    put(w);
    back.kick();
    for (let i = 0; i < 4; i++) {
      put(rd);
      back.kick();
    }
    const consumed = u32(page, XENSTORE_REQ_CONS);
    expect(consumed).toBeLessThan(prod);
    setU32(page, XENSTORE_RSP_CONS, u32(page, XENSTORE_RSP_PROD));
    for (let i = 0; i < 8; i++) {
      back.kick();
      setU32(page, XENSTORE_RSP_CONS, u32(page, XENSTORE_RSP_PROD));
    }
    expect(u32(page, XENSTORE_REQ_CONS)).toBe(prod);
    expect(back.fault).toBeNull();
  });

  it("the frontend stops when the server's rsp indices claim more than 1024 bytes", () => {
    const page = sharedPage();
    initXenstoreRingPage(page);
    let closed = false;
    const front = createXenstoreRingFrontend({ page, notify: () => {} });
    front.onClose?.(() => {
      closed = true;
    });
    setU32(page, XENSTORE_RSP_PROD, 2000);
    front.kick();
    expect(front.fault).toBe("bad-rsp-index");
    expect(closed).toBe(true);
  });
});
