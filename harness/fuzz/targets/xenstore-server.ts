// Fuzz target: the xenstore server (xen-sim/xenstore) fed arbitrary bytes over a connection
// (as domain data[0] & 3) and through a domain's ring page. Oracles:
// - nothing throws, and afterwards a fresh connection is still served correctly;
// - chunking invariance: the replies and the close verdict are the same whether the stream
//   arrives whole, in the pieces data[1] picks, or byte by byte (on the inputs oracles.ts samples);
// - framing, against a shadow reading of the stream (16-byte header, len <= 4096,
//   docs/misc/xenstore.txt): the connection is closed for a bad length exactly when the stream
//   holds a header with len > 4096, and never answers more requests than the stream holds whole
//   messages before that point; every reply is well framed and echoes a request's req_id.

import { createXenstoreRingBackend, initXenstoreRingPage } from "../../../xen-sim/xenstore/ring.ts";
import { createXenstoreServer } from "../../../xen-sim/xenstore/server.ts";
import type { XenstoreCloseReason, XenstoreServer } from "../../../xen-sim/xenstore/types.ts";
import {
  XS_DIRECTORY_PART,
  XS_GET_PERMS,
  XS_MKDIR,
  XS_PAYLOAD_MAX,
  XS_READ,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  emitXsMessage,
  fromLatin1,
  joinStrings,
} from "../../../xen-sim/xenstore/wire.ts";
import { XENSTORE_REQ_PROD } from "../../../xen-sim/abi/xenstore.ts";
import { checkChunkInvariant, fail } from "../oracles.ts";

/**
 * The code under test, the only code Jazzer.js instruments for this target besides the target
 * itself (runner.ts bundleTarget): the chunking oracle (oracles.ts) runs uninstrumented.
 */
export const instrumentOnly = ["xen-sim/xenstore/"];

const QUOTAS = { maxEntries: 50, maxWatches: 8, maxTransactions: 4 };

interface ConnectionOutcome {
  /** Each reply as the server sent it (a fresh message per send: emitXsMessage). */
  readonly replies: Uint8Array[];
  readonly closed: XenstoreCloseReason | null;
}

/**
 * Two servers for the whole process, reset() before each use (a reset server is the server as
 * created, so an input's outcome never depends on the inputs before it): `whole` serves the whole
 * stream and then the ring and the probe, `other` the chunked runs of the chunking oracle.
 */
const whole = createXenstoreServer({ quotas: QUOTAS });
const other = createXenstoreServer({ quotas: QUOTAS });
/** The ring page, zeroed and initialised per input. */
const page = new Uint8Array(4096);
const pageView = new DataView(page.buffer);

/** `server` reset, one connection of `domid`, the stream in `pieces`. */
function serve(server: XenstoreServer, domid: number, pieces: Uint8Array[]): ConnectionOutcome {
  server.reset();
  const replies: Uint8Array[] = [];
  let closed: XenstoreCloseReason | null = null;
  const conn = server.connect(domid, {
    send: (b) => {
      replies.push(b);
    },
    close: (reason) => {
      closed = reason;
    },
  });
  for (const p of pieces) conn.receive(p);
  return { replies, closed };
}

/** Shadow framing: the whole messages before the first header with a bad length, their req_ids, and whether there is one. */
function shadowFraming(stream: Uint8Array): { messages: number; reqIds: Set<number>; badLength: boolean } {
  const v = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const reqIds = new Set<number>();
  let at = 0,
    messages = 0;
  while (at + 16 <= stream.length) {
    const len = v.getUint32(at + 12, true);
    if (len > XS_PAYLOAD_MAX) return { messages, reqIds, badLength: true };
    if (at + 16 + len > stream.length) break;
    reqIds.add(v.getUint32(at + 4, true));
    messages++;
    at += 16 + len;
  }
  return { messages, reqIds, badLength: false };
}

/**
 * Shadow reading of one reply (the oracle's own, not the decoder under test): exactly one message,
 * its len field the bytes after the header and at most 4096; null otherwise.
 */
function shadowReply(reply: Uint8Array): { type: number; reqId: number; payload: Uint8Array } | null {
  if (reply.length < 16) return null;
  const len = le32(reply, 12);
  if (len > XS_PAYLOAD_MAX || len !== reply.length - 16) return null;
  return { type: le32(reply, 0), reqId: le32(reply, 4), payload: reply.subarray(16) };
}

const le32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** The liveness probe's two requests (the server never keeps a received buffer: the same bytes serve every input). */
const PROBE_WRITE = emitXsMessage(XS_WRITE, 1, 0, fromLatin1("/fuzz-probe\0ok"));
const PROBE_READ = emitXsMessage(XS_READ, 2, 0, joinStrings(["/fuzz-probe"]));

export function fuzz(data: Uint8Array): void {
  const domid = (data[0] ?? 0) & 3;
  const chunk = 1 + ((data[1] ?? 0) % 64);
  const stream = data.subarray(Math.min(2, data.length));
  const chunked: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += chunk) chunked.push(stream.subarray(i, i + chunk));
  // The whole stream is served first (by `whole`, kept for the ring and the probe below).
  let runs = 0;
  const outcome = checkChunkInvariant(
    "xenstore connection",
    stream,
    (pieces) => serve(runs++ === 0 ? whole : other, domid, pieces),
    chunk * 7919 + stream.length,
    chunked,
  );

  const shadow = shadowFraming(stream);
  if (shadow.badLength !== (outcome.closed === "payload-too-long")) {
    fail(
      "framing",
      shadow.badLength
        ? "a header with len > 4096 did not close the connection"
        : `connection closed (${outcome.closed ?? "-"}) without a bad length in the stream`,
      data,
    );
  }
  let answers = 0;
  for (const reply of outcome.replies) {
    const m = shadowReply(reply);
    if (m === null) fail("framing", `a reply is not one well-framed message: ${Buffer.from(reply.subarray(0, 40)).toString("hex")}`, data);
    if (m.type === XS_WATCH_EVENT) continue;
    answers++;
    if (!shadow.reqIds.has(m.reqId)) fail("framing", `a reply echoes req_id ${m.reqId}, which no request carried`, data);
  }
  if (answers > shadow.messages) fail("framing", `${answers} replies to ${shadow.messages} whole requests`, data);

  // The server that served the whole stream then serves the ring and the probe: whatever the
  // connection did to the tree, the server keeps serving.
  const server = whole;
  page.fill(0);
  initXenstoreRingPage(page);
  page.set(data.subarray(0, Math.min(data.length, 1024)), 0);
  pageView.setUint32(XENSTORE_REQ_PROD, data.length, true);
  const ring = createXenstoreRingBackend({ server, domid: 1, page, notify: () => {} });
  ring.kick();

  const replies: Uint8Array[] = [];
  const probe = server.connect(0, { send: (b) => replies.push(b), close: () => {} });
  probe.receive(PROBE_WRITE);
  probe.receive(PROBE_READ);
  const last = replies.length === 0 ? null : shadowReply(replies[replies.length - 1]!);
  if (last === null || last.type !== XS_READ || last.reqId !== 2 || Buffer.from(last.payload).toString("latin1") !== "ok") {
    fail("liveness", "xenstore server stopped serving after a fuzz input", data);
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
