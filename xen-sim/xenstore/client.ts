// Xenstore client library for drivers and the toolstack, over any XsByteTransport (in-process
// loopback, a domain's ring page, a Unix socket). Requests are answered in order; replies are
// matched by req_id; watch events go to the callback registered with their token. Every call
// resolves to a Result (server errno or "closed"/"protocol"), never rejects.
//   XsOps                     the node operations, optionally inside a transaction
//   XenstoreClient            XsOps + watches, transactions with retry, domain control
//   createXenstoreClient      factory over a transport
//   connectInProcess          a loopback transport to a server (asynchronous delivery both ways)

import { err, ok, type Result } from "../../stack/result.ts";
import { parsePerm, formatPerm } from "./store.ts";
import type { XenstoreServer, XsByteTransport, XsClientError, XsPerm } from "./types.ts";
import {
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_ERRNOS,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_PAYLOAD_MAX,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  createXsDecoder,
  emitXsMessage,
  fromLatin1,
  joinStrings,
  latin1,
  splitStrings,
  utf8,
  type XsErrno,
} from "./wire.ts";

/** Result of a client call. */
export type XsResult<T> = Result<T, XsClientError>;

/** Node operations; a client's own run outside transactions, a transaction's inside it. */
export interface XsOps {
  /** Value as UTF-8 text. */
  read(path: string): Promise<XsResult<string>>;
  readBytes(path: string): Promise<XsResult<Uint8Array>>;
  /** Writes (creating missing parents). Strings are UTF-8 encoded. */
  write(path: string, value: string | Uint8Array): Promise<XsResult<void>>;
  mkdir(path: string): Promise<XsResult<void>>;
  rm(path: string): Promise<XsResult<void>>;
  /** Child names; falls back to DIRECTORY_PART when the list exceeds one message. */
  directory(path: string): Promise<XsResult<string[]>>;
  getPerms(path: string): Promise<XsResult<XsPerm[]>>;
  setPerms(path: string, perms: readonly XsPerm[]): Promise<XsResult<void>>;
  /** Whether a node exists (ENOENT → false; other errors are returned). */
  exists(path: string): Promise<XsResult<boolean>>;
}

/** A registered watch. */
export interface XsWatchHandle {
  readonly path: string;
  readonly token: string;
  unwatch(): Promise<XsResult<void>>;
}

/** Options of XenstoreClient.transaction. */
export interface XsTransactionOptions {
  /** Attempts before giving up with EAGAIN. Default 16. */
  readonly maxAttempts?: number;
}

/** The client. */
export interface XenstoreClient extends XsOps {
  /**
   * Registers a watch; the callback runs for the initial event the server sends at once, then
   * for every change at or below `path` (with the changed path, relative if `path` was).
   */
  watch(path: string, callback: (path: string, token: string) => void, token?: string): Promise<XsResult<XsWatchHandle>>;
  /**
   * Runs body inside a transaction and commits; on EAGAIN runs it again (up to maxAttempts).
   * A body returning an error aborts the transaction and returns that error.
   */
  transaction<T, E = never>(body: (tx: XsOps) => Promise<Result<T, E>>, options?: XsTransactionOptions): Promise<Result<T, E | XsClientError>>;
  startTransaction(): Promise<XsResult<number>>;
  endTransaction(txId: number, commit: boolean): Promise<XsResult<void>>;
  /** The operations bound to a transaction id. */
  inTransaction(txId: number): XsOps;
  getDomainPath(domid: number): Promise<XsResult<string>>;
  introduce(domid: number, gfn: bigint | number, port: number): Promise<XsResult<void>>;
  release(domid: number): Promise<XsResult<void>>;
  isDomainIntroduced(domid: number): Promise<XsResult<boolean>>;
  setTarget(domid: number, target: number): Promise<XsResult<void>>;
  resetWatches(): Promise<XsResult<void>>;
  /** Fails pending calls with "closed" and closes the transport. */
  close(): void;
  readonly closed: boolean;
}

interface Pending {
  readonly reqId: number;
  readonly type: number;
  readonly resolve: (r: XsResult<Uint8Array>) => void;
}

const decoder = new TextDecoder();

/** Creates a client over a transport. */
export function createXenstoreClient(transport: XsByteTransport): XenstoreClient {
  const wire = createXsDecoder();
  const pending: Pending[] = [];
  const watches = new Map<string, { path: string; callback: (path: string, token: string) => void }>();
  let nextReqId = 1;
  let nextToken = 1;
  let closed = false;

  function shutdown(why: XsClientError): void {
    if (closed) return;
    closed = true;
    for (const p of pending.splice(0)) p.resolve(err(why));
    watches.clear();
  }

  transport.onReceive((bytes) => {
    if (closed) return;
    const r = wire.push(bytes);
    if (!r.ok) {
      shutdown("protocol");
      transport.close?.();
      return;
    }
    for (const m of r.value) {
      if (m.type === XS_WATCH_EVENT) {
        const parts = splitStrings(m.payload);
        if (parts === null || parts.length < 2) continue;
        const w = watches.get(parts[1]!);
        if (w) w.callback(parts[0]!, parts[1]!);
        continue;
      }
      const head = pending[0];
      if (!head || head.reqId !== m.reqId || (m.type !== head.type && m.type !== XS_ERROR)) {
        shutdown("protocol");
        transport.close?.();
        return;
      }
      pending.shift();
      if (m.type === XS_ERROR) {
        const name = splitStrings(m.payload)?.[0];
        head.resolve(err(name !== undefined && (XS_ERRNOS as readonly string[]).includes(name) ? (name as XsErrno) : "EIO"));
      } else {
        head.resolve(ok(m.payload));
      }
    }
    if (wire.failed) {
      // The framing error followed good replies in this chunk: the stream is lost all the same.
      shutdown("protocol");
      transport.close?.();
    }
  });
  transport.onClose?.(() => shutdown("closed"));

  function request(type: number, payload: Uint8Array, txId = 0): Promise<XsResult<Uint8Array>> {
    if (closed) return Promise.resolve(err("closed"));
    if (payload.length > XS_PAYLOAD_MAX) return Promise.resolve(err("too-long"));
    const reqId = nextReqId;
    nextReqId = (nextReqId + 1) >>> 0;
    return new Promise((resolve) => {
      pending.push({ reqId, type, resolve });
      transport.send(emitXsMessage(type, reqId, txId, payload));
    });
  }

  const unit = (r: XsResult<Uint8Array>): XsResult<void> => (r.ok ? ok(undefined) : r);
  const text = (r: XsResult<Uint8Array>): XsResult<string> => {
    if (!r.ok) return r;
    const s = splitStrings(r.value);
    return s !== null && s.length >= 1 ? ok(s[0]!) : err("protocol");
  };

  function ops(txId: number): XsOps {
    const o: XsOps = {
      async readBytes(path) {
        return request(XS_READ, joinStrings([path]), txId);
      },
      async read(path) {
        const r = await o.readBytes(path);
        return r.ok ? ok(decoder.decode(r.value)) : r;
      },
      async write(path, value) {
        const v = typeof value === "string" ? utf8(value) : value;
        const p = fromLatin1(`${path}\0`);
        const payload = new Uint8Array(p.length + v.length);
        payload.set(p, 0);
        payload.set(v, p.length);
        return unit(await request(XS_WRITE, payload, txId));
      },
      async mkdir(path) {
        return unit(await request(XS_MKDIR, joinStrings([path]), txId));
      },
      async rm(path) {
        return unit(await request(XS_RM, joinStrings([path]), txId));
      },
      async directory(path) {
        const r = await request(XS_DIRECTORY, joinStrings([path]), txId);
        if (r.ok) return ok(r.value.length === 0 ? [] : (splitStrings(r.value) ?? []));
        if (r.error !== "E2BIG") return r;
        return directoryPart(path, txId);
      },
      async getPerms(path) {
        const r = await request(XS_GET_PERMS, joinStrings([path]), txId);
        if (!r.ok) return r;
        const out: XsPerm[] = [];
        for (const s of splitStrings(r.value) ?? []) {
          const p = parsePerm(s);
          if (!p.ok) return err("protocol");
          out.push(p.value);
        }
        return ok(out);
      },
      async setPerms(path, perms) {
        return unit(await request(XS_SET_PERMS, joinStrings([path, ...perms.map(formatPerm)]), txId));
      },
      async exists(path) {
        const r = await request(XS_READ, joinStrings([path]), txId);
        if (r.ok) return ok(true);
        return r.error === "ENOENT" ? ok(false) : r;
      },
    };
    return o;
  }

  // libxenstore xs_directory_part(): restart when the generation changes between parts.
  async function directoryPart(path: string, txId: number): Promise<XsResult<string[]>> {
    for (let restart = 0; restart < 8; restart++) {
      const names: string[] = [];
      let gen: string | undefined;
      let off = 0;
      let restarted = false;
      for (let parts = 0; parts < 4096; parts++) {
        const r = await request(XS_DIRECTORY_PART, joinStrings([path, String(off)]), txId);
        if (!r.ok) return r;
        const s = latin1(r.value);
        const nul = s.indexOf("\0");
        if (nul < 0) return err("protocol");
        const g = s.slice(0, nul);
        if (gen === undefined) gen = g;
        else if (g !== gen) {
          restarted = true;
          break;
        }
        const body = s.slice(nul + 1);
        const end = body.endsWith("\0\0") || body === "\0";
        const list = body.split("\0").slice(0, -1);
        if (end) list.pop();
        for (const n of list) {
          names.push(n);
          off += n.length + 1;
        }
        if (end) return ok(names);
        if (list.length === 0) return err("protocol");
      }
      if (!restarted) return err("protocol");
    }
    return err("EAGAIN");
  }

  const base = ops(0);

  async function startTransaction(): Promise<XsResult<number>> {
    const r = text(await request(XS_TRANSACTION_START, joinStrings([""])));
    if (!r.ok) return r;
    const id = Number(r.value);
    return Number.isInteger(id) && id > 0 ? ok(id) : err("protocol");
  }

  async function endTransaction(txId: number, commit: boolean): Promise<XsResult<void>> {
    return unit(await request(XS_TRANSACTION_END, joinStrings([commit ? "T" : "F"]), txId));
  }

  return {
    ...base,
    get closed() {
      return closed;
    },
    async watch(path, callback, token) {
      const t = token ?? `netlab-watch-${nextToken++}`;
      if (watches.has(t)) return err("EEXIST");
      watches.set(t, { path, callback });
      const r = await request(XS_WATCH, joinStrings([path, t]));
      if (!r.ok) {
        watches.delete(t);
        return r;
      }
      return ok({
        path,
        token: t,
        async unwatch() {
          watches.delete(t);
          return unit(await request(XS_UNWATCH, joinStrings([path, t])));
        },
      });
    },
    async transaction<T, E>(body: (tx: XsOps) => Promise<Result<T, E>>, options: XsTransactionOptions = {}) {
      const attempts = options.maxAttempts ?? 16;
      for (let i = 0; i < attempts; i++) {
        const tx = await startTransaction();
        if (!tx.ok) return tx;
        let r: Result<T, E>;
        try {
          r = await body(ops(tx.value));
        } catch (e) {
          await endTransaction(tx.value, false);
          throw e;
        }
        if (!r.ok) {
          await endTransaction(tx.value, false);
          return r;
        }
        const end = await endTransaction(tx.value, true);
        if (end.ok) return r;
        if (end.error !== "EAGAIN") return end;
      }
      return err("EAGAIN" as const);
    },
    startTransaction,
    endTransaction,
    inTransaction: (txId) => ops(txId),
    async getDomainPath(domid) {
      return text(await request(XS_GET_DOMAIN_PATH, joinStrings([String(domid)])));
    },
    async introduce(domid, gfn, port) {
      return unit(await request(XS_INTRODUCE, joinStrings([String(domid), String(gfn), String(port)])));
    },
    async release(domid) {
      return unit(await request(XS_RELEASE, joinStrings([String(domid)])));
    },
    async isDomainIntroduced(domid) {
      const r = text(await request(XS_IS_DOMAIN_INTRODUCED, joinStrings([String(domid)])));
      return r.ok ? ok(r.value === "T") : r;
    },
    async setTarget(domid, target) {
      return unit(await request(XS_SET_TARGET, joinStrings([String(domid), String(target)])));
    },
    async resetWatches() {
      const r = unit(await request(XS_RESET_WATCHES, joinStrings([""])));
      if (r.ok) watches.clear();
      return r;
    },
    close() {
      shutdown("closed");
      transport.close?.();
    },
  };
}

/** Options of connectInProcess. */
export interface InProcessOptions {
  /** Defers a delivery; default queueMicrotask (keeps callers from re-entering each other). */
  readonly schedule?: (fn: () => void) => void;
}

/** A loopback transport speaking to `server` as `domid`; bytes cross asynchronously both ways. */
export function connectInProcess(server: XenstoreServer, domid: number, options: InProcessOptions = {}): XsByteTransport {
  const schedule = options.schedule ?? queueMicrotask;
  let handler: (b: Uint8Array) => void = () => {};
  const closeHandlers: (() => void)[] = [];
  let closed = false;
  let queued = 0;
  const fireClose = () => {
    if (closed) return;
    closed = true;
    for (const h of closeHandlers) h();
  };
  const conn = server.connect(domid, {
    send(bytes) {
      queued += bytes.length;
      schedule(() => {
        queued -= bytes.length;
        if (!closed) handler(bytes);
      });
    },
    queued: () => queued,
    close: () => schedule(fireClose),
  });
  return {
    send(bytes) {
      if (closed) return;
      const copy = bytes.slice();
      schedule(() => conn.receive(copy));
    },
    onReceive(h) {
      handler = h;
    },
    onClose(h) {
      closeHandlers.push(h);
    },
    close() {
      conn.close();
      fireClose();
    },
  };
}
