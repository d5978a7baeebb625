// Xenstore over a domain's shared ring page (struct xenstore_domain_interface, xs_wire.h):
// two 1024-byte byte rings (req guest→server, rsp server→guest) with free-running u32
// indices at 2048..2063, indexed `idx & 1023`. Indices are published with Atomics when the
// page lives in a SharedArrayBuffer. The guest is untrusted: the backend copies bytes out
// before parsing and treats impossible indices as a protocol error (error field, stop).
//   XENSTORE_* feature/connection/error values
//   createXenstoreRingBackend   the server's side: attaches a page to a XenstoreServer connection
//   createXenstoreRingFrontend  the guest's side: an XsByteTransport for the client library
//   initXenstoreRingPage        zeroes indices (what the toolstack does before a domain starts)

import {
  XENSTORE_CONNECTION,
  XENSTORE_ERROR,
  XENSTORE_REQ,
  XENSTORE_REQ_CONS,
  XENSTORE_REQ_PROD,
  XENSTORE_RING_SIZE,
  XENSTORE_RSP,
  XENSTORE_RSP_CONS,
  XENSTORE_RSP_PROD,
  XENSTORE_SERVER_FEATURES,
} from "../abi/xenstore.ts";
import { isLittleEndianHost } from "../abi/xen.ts";
import { copyBytes } from "./wire.ts";
import type { XenstoreConnection, XenstoreServer, XsByteTransport } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;

const MASK = XENSTORE_RING_SIZE - 1;

interface Indices {
  load(offset: number): number;
  store(offset: number, value: number): void;
}

function indices(page: Uint8Array): Indices {
  if (page.length < XENSTORE_ERROR + 4) {
    const e = new NetlabError("ERR_XS_RING_PAGE", `xenstore ring page of ${page.length} bytes is smaller than xenstore_domain_interface`);
    throw e;
  }
  if (page.buffer instanceof SharedArrayBuffer && page.byteOffset % 4 === 0 && isLittleEndianHost()) {
    const words = new Int32Array(page.buffer, page.byteOffset, (XENSTORE_ERROR + 4) / 4);
    return {
      load: (off) => Atomics.load(words, off >> 2) >>> 0,
      store: (off, v) => void Atomics.store(words, off >> 2, v | 0),
    };
  }
  const view = new DataView(page.buffer, page.byteOffset, XENSTORE_ERROR + 4);
  return {
    load: (off) => view.getUint32(off, true),
    store: (off, v) => view.setUint32(off, v >>> 0, true),
  };
}

/** Zeroes the four ring indices, connection and error fields of a xenstore page. */
export function initXenstoreRingPage(page: Uint8Array): void {
  const ix = indices(page);
  for (const off of [XENSTORE_REQ_CONS, XENSTORE_REQ_PROD, XENSTORE_RSP_CONS, XENSTORE_RSP_PROD, XENSTORE_CONNECTION, XENSTORE_ERROR]) {
    ix.store(off, 0);
  }
}

/** Copies `n` bytes out of a byte ring starting at free-running index `idx`. */
function copyOut(page: Uint8Array, base: number, idx: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const start = idx & MASK;
  const first = Math.min(n, XENSTORE_RING_SIZE - start);
  copyBytes(out, 0, page, base + start, first);
  if (first < n) copyBytes(out, first, page, base, n - first);
  return out;
}

/** Copies bytes into a byte ring at free-running index `idx` (caller checked the space). */
function copyIn(page: Uint8Array, base: number, idx: number, bytes: Uint8Array): void {
  const start = idx & MASK;
  const first = Math.min(bytes.length, XENSTORE_RING_SIZE - start);
  copyBytes(page, base + start, bytes, 0, first);
  if (first < bytes.length) copyBytes(page, base, bytes, first, bytes.length - first);
}

/**
 * A byte queue of pending output (chunks, consumed from the front). A class: an object literal with
 * a getter costs V8 a runtime call (~0.9 us), and a ring backend makes one per domain attach.
 */
class OutQueue {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;
  get size(): number {
    return this.#size;
  }
  push(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#size += b.length;
  }
  /** Moves up to `max` bytes into the byte ring at `base` of `page` from free-running index `idx`; returns bytes moved. */
  drainInto(page: Uint8Array, base: number, idx: number, max: number): number {
    const chunks = this.#chunks;
    let moved = 0;
    let taken = 0;
    while (moved < max && taken < chunks.length) {
      const head = chunks[taken]!;
      const take = Math.min(head.length, max - moved);
      copyIn(page, base, (idx + moved) >>> 0, take === head.length ? head : head.subarray(0, take));
      moved += take;
      if (take === head.length) taken++;
      else chunks[taken] = head.subarray(take);
    }
    if (taken === chunks.length) chunks.length = 0;
    else if (taken > 0) chunks.splice(0, taken);
    this.#size -= moved;
    return moved;
  }
  clear(): void {
    this.#chunks.length = 0;
    this.#size = 0;
  }
}

/** Dependencies of the server side of a domain's xenstore ring. */
export interface XenstoreRingBackendDeps {
  readonly server: XenstoreServer;
  readonly domid: number;
  /** The domain's xenstore page (e.g. mapped grant ref 1), shared with the guest. */
  readonly page: Uint8Array;
  /** Signals the guest (event channel send). */
  readonly notify: () => void;
}

/** Options of createXenstoreRingBackend. */
export interface XenstoreRingBackendOptions {
  /** Replies queued beyond the ring above which requests are left unread (back-pressure). Default 64 KiB. */
  readonly maxQueuedOutput?: number;
}

/** Why a backend stopped serving its ring. */
export type XenstoreRingFault = "bad-req-index" | "bad-rsp-index" | "payload-too-long" | "released" | "shutdown" | "closed";

/** The server's side of one domain's xenstore ring. */
export interface XenstoreRingBackend {
  /** Processes the ring: call on every event-channel notification from the guest. */
  kick(): void;
  /** Why the ring stopped being served, or null while healthy. */
  readonly fault: XenstoreRingFault | null;
  /** The server connection currently attached. */
  readonly connection: XenstoreConnection;
  /** Detaches from the server. */
  close(): void;
}

/**
 * Serves a domain's xenstore page. Advertises reconnection and error reporting in
 * server_features; a guest that sets `connection` to XENSTORE_RECONNECT gets a fresh
 * connection (watches and transactions dropped) and zeroed indices.
 */
export function createXenstoreRingBackend(deps: XenstoreRingBackendDeps, options: XenstoreRingBackendOptions = {}): XenstoreRingBackend {
  const { server, domid, page, notify } = deps;
  const ix = indices(page);
  const maxQueued = options.maxQueuedOutput ?? 64 * 1024;
  const out = new OutQueue();
  let fault: XenstoreRingFault | null = null;
  let running = false;
  let again = false;

  const attach = (): XenstoreConnection =>
    server.connect(domid, {
      send: (b) => {
        out.push(b);
        // Unsolicited output (a watch event caused by another connection) must reach the guest
        // now: flush and notify, without re-entering the server (no request processing here).
        if (!running && fault === null) {
          const f = flush();
          if (f === null) badIndex("bad-rsp-index");
          else if (f) notify();
        }
      },
      queued: () => out.size,
      close: (reason) => {
        if (fault !== null) return;
        fault = reason;
        if (reason === "payload-too-long") ix.store(XENSTORE_ERROR, XENSTORE_ERROR_PROTO);
        notify();
      },
    });

  let conn = attach();
  ix.store(XENSTORE_SERVER_FEATURES, XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);

  function badIndex(which: "bad-req-index" | "bad-rsp-index"): void {
    fault = which;
    ix.store(XENSTORE_ERROR, XENSTORE_ERROR_RINGIDX);
    conn.close();
    notify();
  }

  /** Writes queued output into rsp; returns whether anything was produced, or null on a bad index. */
  function flush(): boolean | null {
    if (out.size === 0) return false;
    const cons = ix.load(XENSTORE_RSP_CONS);
    const prod = ix.load(XENSTORE_RSP_PROD);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return null;
    const moved = out.drainInto(page, XENSTORE_RSP, prod, XENSTORE_RING_SIZE - used);
    if (moved === 0) return false;
    ix.store(XENSTORE_RSP_PROD, (prod + moved) >>> 0);
    return true;
  }

  function step(): void {
    if (fault !== null) return;
    let signal = false;
    if (ix.load(XENSTORE_CONNECTION) === XENSTORE_RECONNECT) {
      conn.close();
      out.clear();
      for (const off of [XENSTORE_REQ_CONS, XENSTORE_REQ_PROD, XENSTORE_RSP_CONS, XENSTORE_RSP_PROD]) ix.store(off, 0);
      ix.store(XENSTORE_ERROR, XENSTORE_ERROR_NONE);
      conn = attach();
      ix.store(XENSTORE_CONNECTION, XENSTORE_CONNECTED);
      notify();
      return;
    }
    for (let rounds = 0; rounds < 64; rounds++) {
      const f = flush();
      if (f === null) return badIndex("bad-rsp-index");
      signal ||= f;
      if (out.size > maxQueued) break;
      const cons = ix.load(XENSTORE_REQ_CONS);
      const prod = ix.load(XENSTORE_REQ_PROD);
      const avail = (prod - cons) >>> 0;
      if (avail > XENSTORE_RING_SIZE) return badIndex("bad-req-index");
      if (avail === 0) break;
      const bytes = copyOut(page, XENSTORE_REQ, cons, avail);
      ix.store(XENSTORE_REQ_CONS, prod);
      signal = true;
      conn.receive(bytes);
      if (fault !== null) return;
    }
    const f = flush();
    if (f === null) return badIndex("bad-rsp-index");
    if (signal || f) notify();
  }

  return new RingBackendHandle(
    () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          step();
        } while (again && fault === null);
      } finally {
        running = false;
      }
    },
    () => {
      if (fault === null) fault = "closed";
      conn.close();
    },
    () => fault,
    () => conn,
  );
}

/**
 * The object createXenstoreRingBackend returns: its methods are closures (they work unbound); a
 * class, not an object literal with getters (a V8 runtime call, ~0.9 us, per backend).
 */
class RingBackendHandle implements XenstoreRingBackend {
  readonly #fault: () => XenstoreRingFault | null;
  readonly #connection: () => XenstoreConnection;
  constructor(
    readonly kick: () => void,
    readonly close: () => void,
    fault: () => XenstoreRingFault | null,
    connection: () => XenstoreConnection,
  ) {
    this.#fault = fault;
    this.#connection = connection;
  }
  get fault(): XenstoreRingFault | null {
    return this.#fault();
  }
  get connection(): XenstoreConnection {
    return this.#connection();
  }
}

/** Dependencies of the guest side of the xenstore ring. */
export interface XenstoreRingFrontendDeps {
  readonly page: Uint8Array;
  /** Signals the server (event channel send). */
  readonly notify: () => void;
}

/** The guest's side: an XsByteTransport plus kick() for incoming notifications. */
export interface XenstoreRingFrontend extends XsByteTransport {
  /** Reads responses and writes pending requests: call on every notification from the server. */
  kick(): void;
  /** Why the frontend stopped ("bad-rsp-index" when the server's indices are impossible), or null. */
  readonly fault: "bad-rsp-index" | "server-error" | "closed" | null;
  /** Bytes waiting for room in the request ring. */
  readonly pending: number;
}

/** Creates the guest side of a xenstore page (the page's indices must already be initialised). */
export function createXenstoreRingFrontend(deps: XenstoreRingFrontendDeps): XenstoreRingFrontend {
  const { page, notify } = deps;
  const ix = indices(page);
  const out = new OutQueue();
  let handler: (b: Uint8Array) => void = () => {};
  const closeHandlers: (() => void)[] = [];
  let fault: XenstoreRingFrontend["fault"] = null;
  let running = false;
  let again = false;

  function stop(why: NonNullable<XenstoreRingFrontend["fault"]>): void {
    if (fault !== null) return;
    fault = why;
    out.clear();
    for (const h of closeHandlers) h();
  }

  function pushRequests(): boolean {
    if (out.size === 0) return false;
    const cons = ix.load(XENSTORE_REQ_CONS);
    const prod = ix.load(XENSTORE_REQ_PROD);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return false;
    const moved = out.drainInto(page, XENSTORE_REQ, prod, XENSTORE_RING_SIZE - used);
    if (moved > 0) ix.store(XENSTORE_REQ_PROD, (prod + moved) >>> 0);
    return moved > 0;
  }

  function step(): void {
    if (fault !== null) return;
    if (ix.load(XENSTORE_ERROR) !== XENSTORE_ERROR_NONE) return stop("server-error");
    let signal = false;
    for (let rounds = 0; rounds < 64; rounds++) {
      signal = pushRequests() || signal;
      const cons = ix.load(XENSTORE_RSP_CONS);
      const prod = ix.load(XENSTORE_RSP_PROD);
      const avail = (prod - cons) >>> 0;
      if (avail > XENSTORE_RING_SIZE) return stop("bad-rsp-index");
      if (avail === 0) break;
      const bytes = copyOut(page, XENSTORE_RSP, cons, avail);
      ix.store(XENSTORE_RSP_CONS, prod);
      signal = true;
      handler(bytes);
      if (fault !== null) return;
    }
    if (signal) notify();
  }

  function kick(): void {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        step();
      } while (again && fault === null);
    } finally {
      running = false;
    }
  }

  return {
    get fault() {
      return fault;
    },
    get pending() {
      return out.size;
    },
    send(bytes) {
      if (fault !== null) return;
      out.push(bytes.slice());
      kick();
    },
    onReceive(h) {
      handler = h;
    },
    onClose(h) {
      closeHandlers.push(h);
    },
    close() {
      stop("closed");
    },
    kick,
  };
}
