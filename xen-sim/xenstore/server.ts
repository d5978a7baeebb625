// The xenstore daemon: decodes requests from each connection, applies them to the tree,
// replies (echoing req_id and tx_id) and delivers watch events. Malformed input gets an
// ERROR reply, or closes that connection when the framing is lost; the server survives.
// Semantics follow Debian 12's C xenstored (xen-utils-4.17), including its argument parsing
// (atoi) and quota off-by-ones; harness/xenstore/real compares the two request by request.
//   createXenstoreServer   factory (options: quotas, privileged domains, INTRODUCE hook, log)

import { err, ok, type Result } from "../../stack/result.ts";
import { INTRODUCE_DOMAIN, RELEASE_DOMAIN, canonicalizePath, domainPath, isSelfOrDescendant, isSpecialPath, parentPath, validSpecialPath } from "./paths.ts";
import { createXenstoreTree, formatPerm, parsePerm, permFor, PERM_READ, type WatchFire, type XsCaller, type XsTransaction } from "./store.ts";
import {
  DEFAULT_XENSTORE_QUOTAS,
  type XenstoreCloseReason,
  type XenstoreConnection,
  type XenstoreQuotas,
  type XenstoreServer,
  type XenstoreServerOptions,
  type XenstoreSink,
  type XsPerm,
} from "./types.ts";
import {
  XS_DEBUG,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_PAYLOAD_MAX,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
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
  xsTypeName,
  type XsDecoder,
  type XsErrno,
  type XsMessage,
} from "./wire.ts";

interface Watch {
  /** Canonical path (absolute or special). */
  readonly path: string;
  readonly token: string;
  /** Domain path prefix to strip from event paths when the watch was given relative. */
  readonly relativePrefix: string | null;
}

interface ConnState extends XenstoreConnection {
  closed: boolean;
  readonly sink: XenstoreSink;
  readonly decoder: XsDecoder;
  readonly watches: Watch[];
  readonly transactions: Map<number, XsTransaction>;
  nextTxId: number;
}

const OK_PAYLOAD = joinStrings(["OK"]);
/** tx_id of a request outside any transaction (named: see wire.ts on fuzz builds' comparison hooks). */
const NO_TRANSACTION = 0;
const DOMID_FIRST_RESERVED = 0x7ff0;
/** DOMID_SELF: IS_DOMAIN_INTRODUCED answers T for it. */
const DOMID_SELF = 0x7ff0;
/** A request's arguments for the log: a WRITE as [path, value]; unsplittable payloads as one string. */
function logArgs(msg: XsMessage): string[] {
  const nul = msg.payload.indexOf(0);
  if (msg.type === XS_WRITE && nul >= 0) return [latin1(msg.payload.subarray(0, nul)), latin1(msg.payload.subarray(nul + 1, nul + 1 + 64))];
  return [latin1(msg.payload.subarray(0, 64))];
}

/** C atoi(): optional blanks and sign, then leading digits; 0 when there are none (int wraps). */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m ? Number(BigInt.asIntN(32, BigInt(m[1]!))) : 0;
}

type Reply = Result<Uint8Array, XsErrno>;

/** Creates a xenstore server holding an empty tree ("/" owned by dom0). */
export function createXenstoreServer(options: XenstoreServerOptions = {}): XenstoreServer {
  const quotas: XenstoreQuotas = { ...DEFAULT_XENSTORE_QUOTAS, ...options.quotas };
  const privileged = new Set<number>([0, ...(options.privilegedDomains ?? [])]);
  const maxQueued = options.maxQueuedOutput ?? 256 * 1024;
  const conns = new Set<ConnState>();
  const introduced = new Set<number>();
  const targets = new Map<number, number>();
  const specialPerms = new Map<string, readonly XsPerm[]>();
  const defaultSpecialPerms = (): void => {
    specialPerms.set(INTRODUCE_DOMAIN, [{ domid: 0, perm: "n" }]);
    specialPerms.set(RELEASE_DOMAIN, [{ domid: 0, perm: "n" }]);
  };
  defaultSpecialPerms();
  let nextConnId = 1;
  let logging = true;
  const counters = { requests: 0, errors: 0, droppedEvents: 0, closedForMalformed: 0 };

  const tree = createXenstoreTree(quotas, fireWatches, (domid) => privileged.has(domid));

  function caller(domid: number): XsCaller {
    return { domid, privileged: privileged.has(domid), target: targets.get(domid) };
  }

  function send(conn: ConnState, type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (conn.closed) return;
    conn.sink.send(emitXsMessage(type, reqId, txId, payload));
  }

  /** Queues one watch event; `sent` holds the events this change already gave the connection. */
  function sendEvent(conn: ConnState, watch: Watch, path: string, sent?: Set<string>): void {
    if (conn.closed) return;
    let shown = path;
    if (watch.relativePrefix !== null && path.startsWith(watch.relativePrefix)) {
      shown = path.slice(watch.relativePrefix.length);
      if (shown.startsWith("/")) shown = shown.slice(1);
    }
    // 4.17 gives a connection one event per change for each distinct (path, token), however many
    // of its watches match.
    const key = `${shown}\0${watch.token}`;
    if (sent) {
      if (sent.has(key)) return;
      sent.add(key);
    }
    if ((conn.sink.queued?.() ?? 0) > maxQueued) {
      counters.droppedEvents++;
      return;
    }
    const payload = joinStrings([shown, watch.token]);
    if (payload.length > XS_PAYLOAD_MAX) return;
    send(conn, XS_WATCH_EVENT, 0, 0, payload);
  }

  // xenstored watch_permitted(): the watcher must be able to read the node (its old
  // permissions for a removal or permission change), the node now, or its parent (for a removed
  // node, the parent it had: removals fire children first, while the parent is still there).
  function watchPermitted(c: XsCaller, fire: WatchFire): boolean {
    if (c.privileged) return true;
    if (fire.oldPerms && permFor(c, fire.oldPerms) & PERM_READ) return true;
    const now = tree.permsOf(fire.path);
    if (now === undefined && (fire.oldPerms === undefined || fire.atCommit)) return false;
    if (now !== undefined && permFor(c, now) & PERM_READ) return true;
    const parent = tree.permsOf(parentPath(fire.path));
    return parent !== undefined && (permFor(c, parent) & PERM_READ) !== 0;
  }

  /** While a RELEASE is handled, its watch events wait until the reply is out (as 4.17 orders them). */
  let deferredFires: WatchFire[] | null = null;

  function fireWatches(fire: WatchFire): void {
    if (deferredFires !== null) {
      deferredFires.push(fire);
      return;
    }
    const special = isSpecialPath(fire.path);
    for (const conn of conns) {
      if (conn.closed || conn.watches.length === 0) continue;
      let permitted: boolean | undefined;
      // The events this change gave the connection (made when a watch first matches).
      let sent: Set<string> | undefined;
      for (const w of conn.watches) {
        const match = fire.exact ? w.path === fire.path : isSelfOrDescendant(fire.path, w.path);
        if (!match) continue;
        if (permitted === undefined) {
          const c = caller(conn.domid);
          permitted = special
            ? c.privileged || (permFor(c, specialPerms.get(fire.path) ?? [{ domid: 0, perm: "n" }]) & PERM_READ) !== 0
            : watchPermitted(c, fire);
        }
        if (permitted) sendEvent(conn, w, fire.path, (sent ??= new Set()));
      }
    }
  }

  function dropConnState(conn: ConnState): void {
    conn.watches.length = 0;
    for (const tx of conn.transactions.values()) tree.abort(tx);
    conn.transactions.clear();
  }

  function closeConn(conn: ConnState, reason: XenstoreCloseReason, notifySink: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    dropConnState(conn);
    conns.delete(conn);
    if (notifySink) conn.sink.close(reason);
  }

  function path(conn: ConnState, name: string | undefined): Result<string, XsErrno> {
    if (name === undefined) return err("EINVAL");
    const p = canonicalizePath(conn.domid, name);
    return p.ok ? ok(p.value.path) : err("EINVAL");
  }

  /** The single argument of a payload already split into `args` (handle() splits each request once). */
  function oneArg(args: string[] | null): string | undefined {
    return args !== null && args.length === 1 ? args[0] : undefined;
  }

  /** xenstored onearg_domain(): one argument through atoi; 0 (or none) is EINVAL. */
  function oneArgDomain(args: string[] | null): number | null {
    const arg = oneArg(args);
    const domid = arg === undefined ? 0 : atoi(arg);
    return domid === 0 ? null : domid;
  }

  function done(r: Result<void, XsErrno>): Reply {
    return r.ok ? ok(OK_PAYLOAD) : r;
  }

  /** dom0 is introduced by the daemon itself at start (dom0_init). */
  function isConnected(domid: number): boolean {
    return domid === 0 || introduced.has(domid);
  }

  // xenstored_domain.c do_introduce(): domid and port through atoi; port 0 is refused; dom0 and an
  // introduced domain are re-introduced (the latter's watches and transactions are dropped).
  function doIntroduce(c: XsCaller, args: string[] | null): Reply {
    if (!c.privileged) return err("EACCES");
    if (args === null || args.length < 3) return err("EINVAL");
    const domid = atoi(args[0]!);
    const port = atoi(args[2]!);
    if (port <= 0) return err("EINVAL");
    if (domid < 0 || domid >= DOMID_FIRST_RESERVED) return err("EINVAL");
    if (domid === 0) return ok(OK_PAYLOAD);
    if (introduced.has(domid)) {
      for (const other of conns) if (other.domid === domid) dropConnState(other);
      return ok(OK_PAYLOAD);
    }
    const gfn = /^\d+$/.test(args[1]!) ? BigInt(args[1]!) : 0n;
    if (options.onIntroduce && !options.onIntroduce(domid, gfn, port)) return err("EINVAL");
    introduce(domid);
    return ok(OK_PAYLOAD);
  }

  function introduce(domid: number): void {
    if (introduced.has(domid)) return;
    introduced.add(domid);
    fireWatches({ path: INTRODUCE_DOMAIN, exact: false, oldPerms: undefined });
  }

  function release(domid: number): boolean {
    if (!introduced.has(domid)) return false;
    introduced.delete(domid);
    targets.delete(domid);
    for (const conn of [...conns]) if (conn.domid === domid) closeConn(conn, "released", true);
    options.onRelease?.(domid);
    if (!options.keepOrphans) tree.removeOwnedBy(domid);
    fireWatches({ path: RELEASE_DOMAIN, exact: false, oldPerms: undefined });
    return true;
  }

  function directoryPart(conn: ConnState, c: XsCaller, args: string[] | null, tx: XsTransaction | undefined): Reply {
    if (args === null || args.length !== 2) return err("EINVAL");
    const p = path(conn, args[0]);
    if (!p.ok) return p;
    const d = tree.directory(c, p.value, tx);
    if (!d.ok) return d;
    const gen = `${d.value.gen.toString(16)}\0`;
    const list = joinStrings(d.value.children);
    const off = atoi(args[1]!);
    if (off < 0) return err("EINVAL");
    // xenstored send_directory_part(): whole names from byte offset `off` while they fit; the
    // extra NUL (an empty name) marks the end of the list.
    if (off >= list.length) return ok(fromLatin1(`${gen}\0`));
    const maxLen = XS_PAYLOAD_MAX - gen.length - 1;
    let len = 0;
    while (off + len < list.length) {
      let end = off + len;
      while (list[end] !== 0) end++;
      const nameLen = end - (off + len);
      if (len + nameLen >= maxLen) break;
      len += nameLen + 1;
    }
    const last = off + len === list.length;
    const out = new Uint8Array(gen.length + len + (last ? 1 : 0));
    out.set(fromLatin1(gen), 0);
    out.set(list.subarray(off, off + len), gen.length);
    return ok(out);
  }

  function dispatch(conn: ConnState, msg: XsMessage, tx: XsTransaction | undefined, args: string[] | null): Reply {
    const c = caller(conn.domid);
    switch (msg.type) {
      case XS_READ: {
        const name = oneArg(args);
        if (name === undefined) return err("ENOENT");
        const p = path(conn, name);
        return p.ok ? tree.read(c, p.value, tx) : p;
      }
      case XS_WRITE: {
        const nul = msg.payload.indexOf(0);
        if (nul < 0) return err("EINVAL");
        const p = path(conn, latin1(msg.payload.subarray(0, nul)));
        return p.ok ? done(tree.write(c, p.value, msg.payload.subarray(nul + 1), tx)) : p;
      }
      case XS_MKDIR: {
        const name = oneArg(args);
        if (name === undefined) return err("ENOMEM");
        const p = path(conn, name);
        return p.ok ? done(tree.mkdir(c, p.value, tx)) : p;
      }
      case XS_RM: {
        const name = oneArg(args);
        if (name === undefined) return err("ENOMEM");
        const p = path(conn, name);
        return p.ok ? done(tree.rm(c, p.value, tx)) : p;
      }
      case XS_DIRECTORY: {
        const name = oneArg(args);
        if (name === undefined) return err("ENOENT");
        const p = path(conn, name);
        if (!p.ok) return p;
        const d = tree.directory(c, p.value, tx);
        return d.ok ? ok(joinStrings(d.value.children)) : d;
      }
      case XS_DIRECTORY_PART:
        return directoryPart(conn, c, args, tx);
      case XS_GET_PERMS: {
        const name = oneArg(args);
        if (name === undefined) return err("ENOENT");
        // 4.17 reads no permissions of "@" names (SET_PERMS may still set them).
        if (isSpecialPath(name)) return err("EINVAL");
        const p = path(conn, name);
        if (!p.ok) return p;
        const perms = tree.getPerms(c, p.value, tx);
        return perms.ok ? ok(joinStrings(perms.value.map(formatPerm))) : perms;
      }
      case XS_SET_PERMS: {
        if (args === null || args.length < 2) return err("EINVAL");
        const perms: XsPerm[] = [];
        for (const s of args.slice(1)) {
          const pp = parsePerm(s);
          if (!pp.ok) return pp;
          perms.push(pp.value);
        }
        // domain_alloc_permrefs(): an owner that is no domain is ENOENT (other entries for
        // domains that do not exist are kept and match nobody).
        const owner = perms[0]!.domid;
        if (owner < 0 || owner >= DOMID_FIRST_RESERVED) return err("ENOENT");
        if (isSpecialPath(args[0]!)) {
          if (!specialPerms.has(args[0]!)) return err("ENOENT");
          if (!c.privileged) return err("EACCES");
          specialPerms.set(args[0]!, perms);
          return ok(OK_PAYLOAD);
        }
        const p = path(conn, args[0]);
        return p.ok ? done(tree.setPerms(c, p.value, perms, tx)) : p;
      }
      case XS_WATCH:
        return doWatch(conn, c, args);
      case XS_UNWATCH: {
        if (args === null || args.length !== 2) return err("EINVAL");
        const w = watchPath(conn, args[0]!);
        if (!w.ok) return w;
        const i = conn.watches.findIndex((x) => x.path === w.value.path && x.token === args[1]);
        if (i < 0) return err("ENOENT");
        conn.watches.splice(i, 1);
        return ok(OK_PAYLOAD);
      }
      case XS_RESET_WATCHES:
        dropConnState(conn);
        return ok(OK_PAYLOAD);
      case XS_TRANSACTION_START: {
        if (tx !== undefined) return err("EBUSY");
        // 4.17 refuses only when more than the quota are already open (n+1 may be open).
        if (!c.privileged && conn.transactions.size > quotas.maxTransactions) return err("ENOSPC");
        let id = conn.nextTxId;
        while (id === 0 || conn.transactions.has(id)) id = (id + 1) >>> 0;
        conn.nextTxId = (id + 1) >>> 0;
        conn.transactions.set(id, tree.startTransaction(conn.domid));
        return ok(joinStrings([String(id)]));
      }
      case XS_TRANSACTION_END: {
        if (tx === undefined) return err("ENOENT");
        const arg = oneArg(args);
        if (arg !== "T" && arg !== "F") return err("EINVAL");
        conn.transactions.delete(msg.txId);
        if (arg === "F") {
          tree.abort(tx);
          return ok(OK_PAYLOAD);
        }
        return done(tree.commit(c, tx));
      }
      case XS_INTRODUCE:
        return doIntroduce(c, args);
      case XS_RELEASE: {
        if (!c.privileged) return err("EACCES");
        const domid = oneArgDomain(args);
        if (domid === null) return err("EINVAL");
        return release(domid) ? ok(OK_PAYLOAD) : err("ENOENT");
      }
      case XS_RESUME: {
        if (!c.privileged) return err("EACCES");
        const domid = oneArgDomain(args);
        if (domid === null) return err("EINVAL");
        return introduced.has(domid) ? ok(OK_PAYLOAD) : err("ENOENT");
      }
      case XS_IS_DOMAIN_INTRODUCED: {
        if (!c.privileged) return err("EACCES");
        const arg = oneArg(args);
        if (arg === undefined) return err("EINVAL");
        const domid = atoi(arg);
        return ok(joinStrings([domid === 0 || domid === DOMID_SELF || introduced.has(domid) ? "T" : "F"]));
      }
      case XS_GET_DOMAIN_PATH: {
        const arg = oneArg(args);
        return arg === undefined ? err("EINVAL") : ok(joinStrings([domainPath(atoi(arg) >>> 0)]));
      }
      case XS_SET_TARGET: {
        if (!c.privileged) return err("EACCES");
        if (args === null || args.length !== 2) return err("EINVAL");
        if (!isConnected(atoi(args[0]!)) || !isConnected(atoi(args[1]!))) return err("ENOENT");
        const domid = atoi(args[0]!),
          target = atoi(args[1]!);
        targets.set(domid, target);
        return ok(OK_PAYLOAD);
      }
      case XS_DEBUG: {
        if (!c.privileged) return err("EACCES");
        if (args === null || args.length === 0) return err("EINVAL");
        if ((args[0] === "print" && args.length >= 2) || args[0] === "check") return ok(OK_PAYLOAD);
        if (args[0] === "log") {
          // 4.17's trace switch: here it pauses and resumes the log option.
          if (args.length !== 2 || (args[1] !== "on" && args[1] !== "off")) return err("EINVAL");
          logging = args[1] === "on";
          return ok(OK_PAYLOAD);
        }
        if (args[0] === "help") return ok(joinStrings(["print <text>\ncheck\nlog on|off\nhelp\n"]));
        return err("EINVAL");
      }
      default:
        return err("ENOSYS");
    }
  }

  function watchPath(conn: ConnState, name: string): Result<{ path: string; relativePrefix: string | null }, XsErrno> {
    if (isSpecialPath(name)) {
      // 4.17 accepts "@name/more" (e.g. @releaseDomain/5); it fires only for events at or below it.
      const valid = validSpecialPath(name.split("/")[0]!) && canonicalizePath(0, `/${name.slice(1)}`).ok;
      return valid ? ok({ path: name, relativePrefix: null }) : err("EINVAL");
    }
    const p = canonicalizePath(conn.domid, name);
    if (!p.ok) return err("EINVAL");
    return ok({ path: p.value.path, relativePrefix: p.value.relative ? domainPath(conn.domid) : null });
  }

  function doWatch(conn: ConnState, c: XsCaller, args: string[] | null): Reply {
    if (args === null || args.length !== 2) return err("EINVAL");
    const w = watchPath(conn, args[0]!);
    if (!w.ok) return w;
    const token = args[1]!;
    if (conn.watches.some((x) => x.path === w.value.path && x.token === token)) return err("EEXIST");
    if (!c.privileged) {
      let n = 0;
      for (const other of conns) if (other.domid === conn.domid) n += other.watches.length;
      // 4.17 refuses only when more than the quota exist (the (n+1)th watch is accepted).
      if (n > quotas.maxWatches) return err("E2BIG");
    }
    conn.watches.push({ path: w.value.path, token, relativePrefix: w.value.relativePrefix });
    return ok(OK_PAYLOAD);
  }

  function handle(conn: ConnState, msg: XsMessage): void {
    counters.requests++;
    let reply: Reply;
    let args: string[] | null = null;
    const tx = msg.txId === NO_TRANSACTION ? undefined : conn.transactions.get(msg.txId);
    if (msg.type === XS_WATCH_EVENT || msg.type === XS_ERROR) {
      reply = err("ENOSYS");
    } else if (msg.txId !== NO_TRANSACTION && tx === undefined) {
      reply = err("ENOENT");
    } else {
      args = splitStrings(msg.payload);
      if (msg.type === XS_RELEASE) deferredFires = [];
      try {
        reply = dispatch(conn, msg, tx, args);
      } catch (e) {
        deferredFires = null;
        throw e;
      }
    }
    if (reply.ok && reply.value.length > XS_PAYLOAD_MAX) reply = err("E2BIG");
    if (reply.ok) {
      send(conn, msg.type, msg.reqId, msg.txId, reply.value);
      if (msg.type === XS_WATCH) {
        const w = conn.watches[conn.watches.length - 1]!;
        sendEvent(conn, w, w.path);
      }
    } else {
      counters.errors++;
      send(conn, XS_ERROR, msg.reqId, msg.txId, joinStrings([reply.error]));
    }
    if (deferredFires !== null) {
      const fires = deferredFires;
      deferredFires = null;
      for (const f of fires) fireWatches(f);
    }
    if (logging)
      options.log?.({
        conn: conn.id,
        domid: conn.domid,
        type: xsTypeName(msg.type),
        reqId: msg.reqId,
        txId: msg.txId,
        args: args ?? logArgs(msg),
        reply: reply.ok ? "OK" : reply.error,
      });
  }

  // setup_structure(): the daemon creates /tool/xenstored (empty, owned by dom0) at start.
  tree.write({ domid: 0, privileged: true, target: undefined }, "/tool/xenstored", new Uint8Array(0));
  /** The tree as created, for reset(). */
  const initialTree = tree.snapshot();

  return {
    connect(domid, sink) {
      const conn: ConnState = {
        id: nextConnId++,
        domid,
        closed: false,
        sink,
        decoder: createXsDecoder(),
        watches: [],
        transactions: new Map(),
        nextTxId: 1,
        receive(bytes) {
          if (conn.closed) return;
          const r = conn.decoder.push(bytes);
          if (r.ok) {
            for (const m of r.value) {
              if (conn.closed) return;
              handle(conn, m);
            }
            if (!conn.decoder.failed || conn.closed) return;
          }
          counters.closedForMalformed++;
          closeConn(conn, "payload-too-long", true);
        },
        close() {
          closeConn(conn, "closed", false);
        },
      };
      conns.add(conn);
      return conn;
    },
    introduceDomain(domid) {
      introduce(domid);
    },
    releaseDomain(domid) {
      release(domid);
    },
    isIntroduced(domid) {
      return introduced.has(domid);
    },
    peek(p) {
      return tree.peek(p);
    },
    commitAs(domid, ops) {
      const c = caller(domid);
      const tx = tree.startTransaction(domid);
      for (const op of ops) {
        const p = canonicalizePath(domid, op.path);
        const r = !p.ok
          ? err("EINVAL" as const)
          : op.value === undefined
            ? tree.rm(c, p.value.path, tx)
            : tree.write(c, p.value.path, typeof op.value === "string" ? utf8(op.value) : op.value, tx);
        if (!r.ok) {
          tree.abort(tx);
          return r;
        }
      }
      return tree.commit(c, tx);
    },
    close() {
      for (const conn of [...conns]) closeConn(conn, "shutdown", true);
    },
    reset() {
      for (const conn of [...conns]) closeConn(conn, "shutdown", false);
      introduced.clear();
      targets.clear();
      specialPerms.clear();
      defaultSpecialPerms();
      nextConnId = 1;
      logging = true;
      counters.requests = counters.errors = counters.droppedEvents = counters.closedForMalformed = 0;
      deferredFires = null;
      tree.restore(initialTree);
    },
    stats() {
      let watches = 0;
      let transactions = 0;
      for (const c of conns) {
        watches += c.watches.length;
        transactions += c.transactions.size;
      }
      return { nodes: tree.size, connections: conns.size, watches, transactions, ...counters };
    },
  };
}
