// The xenstore tree: nodes (value, ordered children, permissions, generation), permission
// checks, transactions and per-domain quotas, following C xenstored (tools/xenstore/
// xenstored_core.c, xenstored_transaction.c, xenstored_domain.c) as Debian 12 ships it
// (xen-utils-4.17; checked differentially by harness/xenstore/real). Paths given here are
// already canonical.
//   XsCaller              who is asking (domid, privileged, SET_TARGET target)
//   WatchFire             a change that watches may see (path, exact match only, old perms)
//   XsTransaction         a transaction's private view (opaque to callers)
//   XenstoreTree          read/write/mkdir/rm/directory/getPerms/setPerms/commit/removeOwnedBy
//   nodeRecordSize        the bytes C xenstored charges for a node against the entry-size quota
//   createXenstoreTree    factory; `fire` receives changes made outside transactions and at commit
//   permFor / PERM_*      the permission a caller has on a node's permission list
//   parsePerm / formatPerm  "r5" ⇄ { domid: 5, perm: "r" }

import { err, ok, type Result } from "../../stack/result.ts";
import { baseName, childPath, parentPath } from "./paths.ts";
import type { XenstoreQuotas, XsPerm, XsPermLetter } from "./types.ts";
import type { XsErrno } from "./wire.ts";

export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_OWNER = 4;

/** Who performs an operation. */
export interface XsCaller {
  readonly domid: number;
  readonly privileged: boolean;
  /** Domain this caller may act for (SET_TARGET), if any. */
  readonly target: number | undefined;
}

/** A change for the watch machinery. exact: only watches on exactly this path fire. */
export interface WatchFire {
  readonly path: string;
  readonly exact: boolean;
  /** Permissions of the node before the change (undefined for a creation). */
  readonly oldPerms: readonly XsPerm[] | undefined;
  /**
   * Fired at a transaction's commit: a node it removed is gone by then, so (as 4.17) a watcher
   * that could not read it is not let in through its parent.
   */
  readonly atCommit?: boolean;
}

interface NodeRec {
  readonly value: Uint8Array;
  readonly perms: readonly XsPerm[];
  readonly children: readonly string[];
  /** Generation of the last change (in a transaction's copy: of the change in the transaction). */
  readonly gen: number;
}

/** A transaction: a private overlay plus the generation of every node it looked at. */
export interface XsTransaction {
  readonly domid: number;
  /** Set by the tree once the transaction is committed or aborted. */
  readonly ended: boolean;
}

interface TxState extends XsTransaction {
  ended: boolean;
  /** A quota failure inside the transaction: its commit fails with ENOMEM (xenstored's trans->fail). */
  failed: boolean;
  /** Set when an operation needed one node more than maxTransactionNodes allows (reported as ENOSPC). */
  overQuota: boolean;
  readonly overlay: Map<string, NodeRec | null>;
  /** The committed node as the transaction first saw it: later reads return this copy. */
  readonly snapshot: Map<string, NodeRec | null>;
  readonly accessed: Map<string, number>;
  /**
   * Changes for watches, once per path (xenstored fires one event per changed node at commit, in
   * the order of first access): the first change's old permissions, the last one's exactness.
   */
  readonly fires: Map<string, { exact: boolean; oldPerms: readonly XsPerm[] | undefined; existed: boolean }>;
  readonly ownerDelta: Map<number, number>;
}

/** The tree operations; every error is an errno name. */
export interface XenstoreTree {
  read(c: XsCaller, path: string, tx?: XsTransaction): Result<Uint8Array, XsErrno>;
  write(c: XsCaller, path: string, value: Uint8Array, tx?: XsTransaction): Result<void, XsErrno>;
  mkdir(c: XsCaller, path: string, tx?: XsTransaction): Result<void, XsErrno>;
  rm(c: XsCaller, path: string, tx?: XsTransaction): Result<void, XsErrno>;
  /** Children names in creation order and the node's generation. */
  directory(c: XsCaller, path: string, tx?: XsTransaction): Result<{ children: readonly string[]; gen: number }, XsErrno>;
  getPerms(c: XsCaller, path: string, tx?: XsTransaction): Result<readonly XsPerm[], XsErrno>;
  setPerms(c: XsCaller, path: string, perms: readonly XsPerm[], tx?: XsTransaction): Result<void, XsErrno>;
  startTransaction(domid: number): XsTransaction;
  /** Applies the transaction, or EAGAIN if anything it read or wrote changed meanwhile. */
  commit(c: XsCaller, tx: XsTransaction): Result<void, XsErrno>;
  abort(tx: XsTransaction): void;
  /** Permissions of a committed node (no checks), for watch delivery. */
  permsOf(path: string): readonly XsPerm[] | undefined;
  /** Raw committed value, no checks. */
  peek(path: string): Uint8Array | undefined;
  /** Committed nodes owned by domid. */
  ownedBy(domid: number): number;
  /**
   * Deletes every committed node owned by domid with its subtree, walking the tree depth first
   * in child order, and fires watches as RM does (xenstored's domain_tree_remove on release).
   */
  removeOwnedBy(domid: number): void;
  /** The committed state (nodes, owners, generation) as it is now, for restore(). */
  snapshot(): XenstoreTreeSnapshot;
  /** Back to a snapshot's committed state; open transactions are void. */
  restore(s: XenstoreTreeSnapshot): void;
  readonly size: number;
}

/** A tree's committed state (node records are never changed in place, so they are shared). */
export interface XenstoreTreeSnapshot {
  readonly nodes: ReadonlyMap<string, unknown>;
  readonly owners: ReadonlyMap<number, number>;
  readonly generation: number;
}

/** Permission bits a caller holds on a node with these permissions. */
export function permFor(c: XsCaller, perms: readonly XsPerm[]): number {
  const all = PERM_READ | PERM_WRITE | PERM_OWNER;
  const owner = perms[0];
  if (c.privileged || owner === undefined) return all;
  if (owner.domid === c.domid || (c.target !== undefined && owner.domid === c.target)) return all;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.domid === c.domid || (c.target !== undefined && p.domid === c.target)) return letterBits(p.perm);
  }
  return letterBits(owner.perm);
}

function letterBits(l: XsPermLetter): number {
  return l === "b" ? PERM_READ | PERM_WRITE : l === "r" ? PERM_READ : l === "w" ? PERM_WRITE : 0;
}

// xs_strings_to_perms(): a letter, then a number as strtol(s, &end, 0) reads it (blanks, sign,
// 0x/0 prefixes) that must use the whole rest; the long is stored in a 32-bit int.
const PERM_RE = /^([nrwb])([ \t\n\v\f\r]*[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*))$/;
const LONG_MIN = -(1n << 63n),
  LONG_MAX = (1n << 63n) - 1n;

/** Parses one permission string such as "r5" (C strtol rules for the number, as xenstored). */
export function parsePerm(s: string): Result<XsPerm, "EINVAL"> {
  const m = PERM_RE.exec(s);
  if (!m) return err("EINVAL");
  const text = m[2]!.trim();
  const negative = text.startsWith("-");
  const digits = text.replace(/^[+-]/, "");
  let v = /^0[xX]/.test(digits) ? BigInt(digits) : /^0[0-7]/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  if (negative) v = -v;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return ok({ domid: Number(BigInt.asIntN(32, v)), perm: m[1] as XsPermLetter });
}

/** Formats one permission entry ("b0"). */
export function formatPerm(p: XsPerm): string {
  return `${p.perm}${p.domid}`;
}

const EMPTY = new Uint8Array(0);

// struct xs_tdb_record_hdr (u64 generation, u32 num_perms, datalen, childlen: 20 bytes, padded
// to 24) and struct xs_permissions (8 bytes each), as xenstored_core.c write_node_raw() sizes them.
const RECORD_HEADER_SIZE = 24;
const RECORD_PERM_SIZE = 8;

/** Bytes C xenstored charges for a node: header, permissions, value and NUL-terminated child names. */
export function nodeRecordSize(value: Uint8Array, perms: readonly XsPerm[], children: readonly string[]): number {
  let childLen = 0;
  for (const c of children) childLen += c.length + 1;
  return RECORD_HEADER_SIZE + RECORD_PERM_SIZE * perms.length + value.length + childLen;
}

/**
 * Creates a tree holding "/" (owned by dom0, no access for others); quotas apply to unprivileged
 * callers, and the node-count check at commit to unprivileged owners (isPrivileged).
 */
export function createXenstoreTree(
  quotas: XenstoreQuotas,
  fire: (f: WatchFire) => void,
  isPrivileged: (domid: number) => boolean = (domid) => domid === 0,
): XenstoreTree {
  const nodes = new Map<string, NodeRec>();
  const owners = new Map<number, number>();
  let generation = 0;
  nodes.set("/", { value: EMPTY, perms: [{ domid: 0, perm: "n" }], children: [], gen: 0 });
  owners.set(0, 1);

  const asState = (tx: XsTransaction | undefined): TxState | undefined => tx as TxState | undefined;

  // xenstored_transaction.c: the first access in a transaction copies the node (or records its
  // absence) with its generation; later reads see that copy, and commit compares generations.
  function lookup(tx: TxState | undefined, path: string): NodeRec | undefined {
    if (tx === undefined) return nodes.get(path);
    if (tx.overlay.has(path)) return tx.overlay.get(path) ?? undefined;
    if (tx.snapshot.has(path)) return tx.snapshot.get(path) ?? undefined;
    // access_node(): an unprivileged transaction may touch quota_trans_nodes distinct nodes.
    if (tx.accessed.size >= quotas.maxTransactionNodes && !tx.accessed.has(path) && !isPrivileged(tx.domid)) {
      tx.overQuota = true;
      tx.failed = true;
      return undefined;
    }
    const n = nodes.get(path);
    tx.snapshot.set(path, n ?? null);
    if (!tx.accessed.has(path)) tx.accessed.set(path, n ? n.gen : -1);
    return n;
  }

  // write_node_raw(): an unprivileged caller may not store a node of quota_max_entry_size bytes
  // or more (checked on every node it writes, parents included).
  function tooBig(c: XsCaller, node: NodeRec): boolean {
    return !c.privileged && nodeRecordSize(node.value, node.perms, node.children) >= quotas.maxNodeSize;
  }

  function quotaFailure(tx: TxState | undefined, e: XsErrno): Result<never, XsErrno> {
    if (tx) tx.failed = true;
    return err(e);
  }

  function addOwner(map: Map<number, number>, domid: number, delta: number): void {
    map.set(domid, (map.get(domid) ?? 0) + delta);
  }

  function put(tx: TxState | undefined, path: string, node: NodeRec | null, change?: WatchFire): void {
    if (tx?.overQuota) return; // the operation is refused (ENOSPC): it changes nothing
    const old = lookup(tx, path);
    const counts = tx ? tx.ownerDelta : owners;
    const before = old === undefined ? undefined : old.perms[0]!.domid;
    const after = node === null ? undefined : node.perms[0]!.domid;
    if (before !== after) {
      if (before !== undefined) addOwner(counts, before, -1);
      if (after !== undefined) addOwner(counts, after, 1);
    }
    if (tx) {
      // A node written in a transaction takes the next generation too (what DIRECTORY_PART
      // reports for the transaction's copy), as 4.17 numbers them.
      tx.overlay.set(path, node === null ? null : { ...node, gen: ++generation });
      if (change) {
        const seen = tx.fires.get(path);
        if (seen) seen.exact = change.exact;
        else tx.fires.set(path, { exact: change.exact, oldPerms: change.oldPerms, existed: (tx.snapshot.get(path) ?? null) !== null });
      }
      return;
    }
    if (node) nodes.set(path, { ...node, gen: ++generation });
    else nodes.delete(path);
    if (change) fire(change);
  }

  function owned(tx: TxState | undefined, domid: number): number {
    return (owners.get(domid) ?? 0) + (tx?.ownerDelta.get(domid) ?? 0);
  }

  // xenstored errno_from_parents(): a missing or forbidden node reports ENOENT only to callers
  // holding the wanted permission on the nearest existing ancestor; everyone else sees EACCES.
  function errnoFromParents(c: XsCaller, tx: TxState | undefined, path: string, errnum: XsErrno, perm: number): XsErrno {
    let p = path;
    let anc: NodeRec | undefined;
    while (p !== "/") {
      p = parentPath(p);
      anc = lookup(tx, p);
      if (anc) break;
    }
    if (anc === undefined) return "EACCES";
    return permFor(c, anc.perms) & perm ? errnum : "EACCES";
  }

  function getNode(c: XsCaller, tx: TxState | undefined, path: string, perm: number): Result<NodeRec, XsErrno> {
    const n = lookup(tx, path);
    if (n && (permFor(c, n.perms) & perm) === perm) return ok(n);
    return err(errnoFromParents(c, tx, path, n ? "EACCES" : "ENOENT", perm));
  }

  function checkTx(tx: TxState | undefined): XsErrno | null {
    return tx && tx.ended ? "ENOENT" : null;
  }

  function create(c: XsCaller, tx: TxState | undefined, path: string, value: Uint8Array): Result<void, XsErrno> {
    const missing: string[] = [path];
    let parent = parentPath(path);
    while (lookup(tx, parent) === undefined) {
      missing.push(parent);
      parent = parentPath(parent);
    }
    // Inside a transaction the count is the committed one plus the transaction's creations; its
    // deletions free nothing before commit (as Debian's 4.17 counts them).
    const count = tx ? (owners.get(c.domid) ?? 0) + Math.max(0, tx.ownerDelta.get(c.domid) ?? 0) : owned(tx, c.domid);
    if (!c.privileged && count + missing.length > quotas.maxEntries) return err("ENOSPC");
    let parentNode = lookup(tx, parent)!;
    {
      // Size checks first, so that a refused creation leaves nothing behind.
      let pn = parentNode;
      for (let i = missing.length - 1; i >= 0; i--) {
        const p = missing[i]!;
        const perms = pn.perms.slice();
        if (!c.privileged) perms[0] = { domid: c.domid, perm: perms[0]!.perm };
        const node: NodeRec = { value: i === 0 ? value : EMPTY, perms, children: [], gen: 0 };
        if (tooBig(c, { ...pn, children: [...pn.children, baseName(p)] }) || tooBig(c, node)) return quotaFailure(tx, "ENOSPC");
        pn = node;
      }
    }
    for (let i = missing.length - 1; i >= 0; i--) {
      const p = missing[i]!;
      const perms = parentNode.perms.slice();
      if (!c.privileged) perms[0] = { domid: c.domid, perm: perms[0]!.perm };
      const node: NodeRec = { value: i === 0 ? value : EMPTY, perms, children: [], gen: 0 };
      put(tx, parent, { ...parentNode, children: [...parentNode.children, baseName(p)] });
      put(tx, p, node, i === 0 ? { path, exact: false, oldPerms: undefined } : undefined);
      parent = p;
      parentNode = node;
    }
    return ok(undefined);
  }

  // xenstored delete_node(): children first, then the node; a listed child that cannot be found
  // (a transaction's copy of the node outlived a child removed outside) stops it: false.
  function removeSubtree(tx: TxState | undefined, path: string, node: NodeRec, exact: boolean): boolean {
    for (const name of node.children) {
      const cp = childPath(path, name);
      const child = lookup(tx, cp);
      if (!child || !removeSubtree(tx, cp, child, true)) return false;
    }
    put(tx, path, null, { path, exact, oldPerms: node.perms });
    return true;
  }

  const base: Omit<XenstoreTree, "snapshot" | "restore"> = {
    get size() {
      return nodes.size;
    },
    read(c, path, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_READ);
      return n.ok ? ok(n.value.value) : n;
    },
    write(c, path, value, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_WRITE);
      if (!n.ok && n.error !== "ENOENT") return n;
      if (n.ok) {
        const node = { ...n.value, value: value.slice() };
        if (tooBig(c, node)) return quotaFailure(t, "ENOSPC");
        put(t, path, node, { path, exact: false, oldPerms: n.value.perms });
        return ok(undefined);
      }
      return create(c, t, path, value.slice());
    },
    mkdir(c, path, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_WRITE);
      if (n.ok) return ok(undefined);
      if (n.error !== "ENOENT") return n;
      return create(c, t, path, EMPTY);
    },
    rm(c, path, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_WRITE);
      if (!n.ok) {
        if (n.error === "ENOENT" && path !== "/" && lookup(t, parentPath(path))) return ok(undefined);
        return n;
      }
      if (path === "/") return err("EINVAL");
      // A transaction's copies can disagree with nodes changed outside since: as xenstored's _rm()
      // and delete_node(), a missing parent is EINVAL, a missing child or a parent whose copy
      // does not list the node is EIO (the store looks corrupt from inside the transaction).
      const parent = parentPath(path);
      const pn = lookup(t, parent);
      if (!pn) return err("EINVAL");
      if (!removeSubtree(t, path, n.value, false)) return err("EIO");
      const name = baseName(path);
      if (!pn.children.includes(name)) return err("EIO");
      put(t, parent, { ...pn, children: pn.children.filter((x) => x !== name) });
      return ok(undefined);
    },
    directory(c, path, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_READ);
      return n.ok ? ok({ children: n.value.children, gen: n.value.gen }) : n;
    },
    getPerms(c, path, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      const n = getNode(c, t, path, PERM_READ);
      return n.ok ? ok(n.value.perms) : n;
    },
    setPerms(c, path, perms, tx) {
      const t = asState(tx);
      const bad = checkTx(t);
      if (bad) return err(bad);
      if (perms.length === 0) return err("EINVAL");
      if (!c.privileged && perms.length > quotas.maxPermsPerNode) return err("ENOSPC");
      const n = getNode(c, t, path, PERM_WRITE | PERM_OWNER);
      if (!n.ok) return n;
      const newOwner = perms[0]!.domid;
      if (!c.privileged && newOwner !== n.value.perms[0]!.domid) return err("EPERM");
      const node = { ...n.value, perms: perms.slice() };
      if (tooBig(c, node)) return quotaFailure(t, "ENOSPC");
      put(t, path, node, { path, exact: false, oldPerms: n.value.perms });
      return ok(undefined);
    },
    startTransaction(domid) {
      const tx: TxState = {
        domid,
        ended: false,
        failed: false,
        overQuota: false,
        overlay: new Map(),
        snapshot: new Map(),
        accessed: new Map(),
        fires: new Map(),
        ownerDelta: new Map(),
      };
      return tx;
    },
    commit(_c, tx) {
      const t = tx as TxState;
      if (t.ended) return err("ENOENT");
      t.ended = true;
      if (t.failed) return err("ENOMEM");
      for (const [path, gen] of t.accessed) {
        const n = nodes.get(path);
        if ((n ? n.gen : -1) !== gen) return err("EAGAIN");
      }
      // xenstored_transaction.c: every unprivileged domain whose node count the transaction changed
      // (even back to zero) must stay below the quota after it: count + delta >= quota is ENOSPC.
      for (const [domid, delta] of t.ownerDelta) {
        if (!isPrivileged(domid) && (owners.get(domid) ?? 0) + delta >= quotas.maxEntries) return err("ENOSPC");
      }
      for (const [path, node] of t.overlay) put(undefined, path, node);
      // In the order the transaction first accessed each node (xenstored's accessed list).
      for (const path of t.accessed.keys()) {
        const f = t.fires.get(path);
        // A node the transaction created and removed again was never there for anyone.
        if (f === undefined || (!f.existed && t.overlay.get(path) === null)) continue;
        fire({ path, exact: f.exact, oldPerms: f.oldPerms, atCommit: true });
      }
      return ok(undefined);
    },
    abort(tx) {
      (tx as TxState).ended = true;
    },
    permsOf(path) {
      return nodes.get(path)?.perms;
    },
    peek(path) {
      return nodes.get(path)?.value;
    },
    ownedBy(domid) {
      return owners.get(domid) ?? 0;
    },
    removeOwnedBy(domid) {
      const walk = (path: string): void => {
        const n = nodes.get(path);
        if (!n) return;
        if (path !== "/" && n.perms[0]!.domid === domid) {
          const parent = parentPath(path);
          const pn = nodes.get(parent)!;
          const name = baseName(path);
          put(undefined, parent, { ...pn, children: pn.children.filter((x) => x !== name) });
          removeSubtree(undefined, path, n, false); // committed nodes are consistent
          return;
        }
        for (const name of n.children) walk(childPath(path, name));
      };
      walk("/");
    },
  };

  // An operation that hit the transaction-nodes quota answers ENOSPC whatever it found.
  function guard<T>(tx: XsTransaction | undefined, r: Result<T, XsErrno>): Result<T, XsErrno> {
    const t = asState(tx);
    if (!t?.overQuota) return r;
    t.overQuota = false;
    return err("ENOSPC");
  }

  return {
    get size() {
      return nodes.size;
    },
    read: (c, path, tx) => guard(tx, base.read(c, path, tx)),
    write: (c, path, value, tx) => guard(tx, base.write(c, path, value, tx)),
    mkdir: (c, path, tx) => guard(tx, base.mkdir(c, path, tx)),
    rm: (c, path, tx) => guard(tx, base.rm(c, path, tx)),
    directory: (c, path, tx) => guard(tx, base.directory(c, path, tx)),
    getPerms: (c, path, tx) => guard(tx, base.getPerms(c, path, tx)),
    setPerms: (c, path, perms, tx) => guard(tx, base.setPerms(c, path, perms, tx)),
    startTransaction: base.startTransaction,
    commit: base.commit,
    abort: base.abort,
    permsOf: base.permsOf,
    peek: base.peek,
    ownedBy: base.ownedBy,
    removeOwnedBy: base.removeOwnedBy,
    snapshot: () => ({ nodes: new Map(nodes), owners: new Map(owners), generation }),
    restore(snap) {
      nodes.clear();
      for (const [k, v] of snap.nodes) nodes.set(k, v as NodeRec);
      owners.clear();
      for (const [k, v] of snap.owners) owners.set(k, v);
      generation = snap.generation;
    },
  };
}
