// Fuzz target for the xenstore server (jsfuzz / Jazzer.js signature): arbitrary bytes go to a
// connection (split into chunks by the first byte) and into a domain's ring page; nothing may
// throw, and afterwards a fresh connection must still be served correctly.
//   fuzz(data)  one input; throws only on a real bug
//   seeds()     well-formed request streams

import { createXenstoreRingBackend, initXenstoreRingPage } from "./ring.ts";
import { createXenstoreServer } from "./server.ts";
import {
  XS_DIRECTORY_PART, XS_GET_PERMS, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_TRANSACTION_END, XS_TRANSACTION_START,
  XS_WATCH, XS_WRITE, createXsDecoder, emitXsMessage, fromLatin1, joinStrings,
} from "./wire.ts";
import { XENSTORE_REQ_PROD } from "../abi/xenstore.ts";

export function fuzz(data: Uint8Array): void {
  const server = createXenstoreServer({ quotas: { maxEntries: 50, maxWatches: 8, maxTransactions: 4 } });
  const domid = (data[0] ?? 0) & 3;
  const chunk = 1 + ((data[1] ?? 0) % 64);
  const conn = server.connect(domid, { send: () => {}, close: () => {} });
  for (let i = 2; i < data.length; i += chunk) conn.receive(data.subarray(i, i + chunk));

  const page = new Uint8Array(4096);
  initXenstoreRingPage(page);
  page.set(data.subarray(0, Math.min(data.length, 1024)), 0);
  new DataView(page.buffer).setUint32(XENSTORE_REQ_PROD, data.length, true);
  const ring = createXenstoreRingBackend({ server, domid: 1, page, notify: () => {} });
  ring.kick();

  const replies: Uint8Array[] = [];
  const probe = server.connect(0, { send: (b) => replies.push(b), close: () => {} });
  probe.receive(emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/fuzz-probe\0ok")));
  probe.receive(emitXsMessage(XS_READ, 2, 0, joinStrings(["/fuzz-probe"])));
  const dec = createXsDecoder();
  const msgs = replies.flatMap((b) => {
    const r = dec.push(b);
    return r.ok ? r.value : [];
  });
  const last = msgs[msgs.length - 1];
  if (!last || last.type !== XS_READ || last.reqId !== 2 || String.fromCharCode(...last.payload) !== "ok") {
    throw new Error("xenstore server stopped serving after a fuzz input");
  }
}

/** Seed inputs: request streams touching every kind of state. */
export function seeds(): Uint8Array[] {
  const m = (type: number, args: string[], tx = 0) => emitXsMessage(type, 1, tx, joinStrings(args));
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(2 + parts.reduce((n, p) => n + p.length, 0));
    out[0] = 0;
    out[1] = 7;
    let o = 2;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  return [
    cat(emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/a/b\0v")), m(XS_READ, ["/a/b"]), m(XS_DIRECTORY_PART, ["/a", "0"])),
    cat(m(XS_TRANSACTION_START, [""]), emitXsMessage(XS_WRITE, 2, 1, fromLatin1("/t\0x")), m(XS_TRANSACTION_END, ["T"], 1)),
    cat(m(XS_WATCH, ["/a", "tok"]), m(XS_MKDIR, ["/a/c"]), m(XS_SET_PERMS, ["/a/c", "n0", "r1"]), m(XS_GET_PERMS, ["/a/c"]), m(XS_RM, ["/a"])),
  ];
}
