// The request scripts of the xenstored differential test (harness/xenstore/real/differential.ts):
// transactions with conflicts, watches, permissions as dom0 and as a domU, quotas,
// DIRECTORY_PART paging, domain introduction and death, and garbage.
//   DIFF_SCRIPTS      every script (each starts from a fresh daemon)
//   DIFF_QUOTA_ARGS   the real daemon's command line for the quota scripts, and netlab's equivalent

import {
  XS_DEBUG,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
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
  XS_WRITE,
  emitXsMessage,
  fromLatin1,
} from "../../../xen-sim/xenstore/wire.ts";
import type { XenstoreQuotas } from "../../../xen-sim/xenstore/types.ts";
import { dies, gone, open, raw, send, type DiffScript, type DiffStep } from "./differential.ts";

/** NUL-terminated strings. */
const z = (...parts: string[]): string => parts.map((p) => `${p}\0`).join("");
const write = (conn: string, path: string, value: string, tx?: string | number): DiffStep => send(conn, XS_WRITE, `${path}\0${value}`, tx);
const read = (conn: string, path: string, tx?: string | number): DiffStep => send(conn, XS_READ, z(path), tx);
const dir = (conn: string, path: string, tx?: string | number): DiffStep => send(conn, XS_DIRECTORY, z(path), tx);
const mkdir = (conn: string, path: string, tx?: string | number): DiffStep => send(conn, XS_MKDIR, z(path), tx);
const rm = (conn: string, path: string, tx?: string | number): DiffStep => send(conn, XS_RM, z(path), tx);
const perms = (conn: string, path: string, ...p: string[]): DiffStep => send(conn, XS_SET_PERMS, z(path, ...p));
const getPerms = (conn: string, path: string, tx?: string | number): DiffStep => send(conn, XS_GET_PERMS, z(path), tx);
const watch = (conn: string, path: string, token: string): DiffStep => send(conn, XS_WATCH, z(path, token));
const unwatch = (conn: string, path: string, token: string): DiffStep => send(conn, XS_UNWATCH, z(path, token));
const start = (conn: string): DiffStep => send(conn, XS_TRANSACTION_START, z(""));
const commit = (conn: string, tx: string): DiffStep => send(conn, XS_TRANSACTION_END, z("T"), tx);
const abort = (conn: string, tx: string): DiffStep => send(conn, XS_TRANSACTION_END, z("F"), tx);

/** dom0 prepares /local/domain/<d> owned by d and introduces d; the domU connection is then opened. */
function domU(domid: number, conn = "u"): DiffStep[] {
  const home = `/local/domain/${domid}`;
  return [mkdir("a", home), perms("a", home, `n${domid}`, "r0"), send("a", XS_INTRODUCE, z(String(domid), "0", "1")), open(conn, domid)];
}

const x = (n: number, c = "x"): string => c.repeat(n);

/** The real daemon's limits for the quota scripts; netlab gets the same numbers. */
export const DIFF_QUOTA_ARGS = {
  real: ["--entry-nb", "6", "--watch-nb", "3", "--transaction", "2"],
  netlab: { maxEntries: 6, maxWatches: 3, maxTransactions: 2 },
} as const;

/** The real daemon's command line and netlab's quotas for a script (most run with the defaults). */
export function scriptLimits(name: string): { real: readonly string[]; netlab: Partial<XenstoreQuotas> } {
  if (name.includes("entries 6")) return DIFF_QUOTA_ARGS;
  if (name.includes("--perm-nb 2")) return { real: ["--perm-nb", "2"], netlab: { maxPermsPerNode: 2 } };
  if (name.includes("transaction-nodes 4")) return { real: ["-Q", "transaction-nodes=4"], netlab: { maxTransactionNodes: 4 } };
  return { real: [], netlab: {} };
}

export const DIFF_SCRIPTS: readonly DiffScript[] = [
  {
    name: "basics as dom0",
    steps: [
      open("a", 0),
      read("a", "/tool/xenstored"),
      dir("a", "/"),
      dir("a", "/tool"),
      write("a", "/a", "b"),
      read("a", "/a"),
      write("a", "/a/b/c/d", "deep"),
      dir("a", "/a/b"),
      read("a", "/a/b"),
      mkdir("a", "/a"),
      mkdir("a", "/m"),
      read("a", "/m"),
      getPerms("a", "/a/b/c"),
      read("a", "/nothing"),
      dir("a", "/nothing"),
      rm("a", "/nothing"),
      rm("a", "/nothing/deeper"),
      rm("a", "/a/b"),
      dir("a", "/a"),
      rm("a", "/"),
      read("a", "relative"),
      write("a", "relative", "r"),
      read("a", "/local/domain/0/relative"),
      read("a", "/a//b"),
      read("a", "/a/"),
      read("a", ""),
      read("a", "/bad char"),
      write("a", "/empty", ""),
      read("a", "/empty"),
      send("a", XS_GET_DOMAIN_PATH, z("7")),
      send("a", XS_GET_DOMAIN_PATH, z("abc")),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("0")),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("9")),
      send("a", XS_DEBUG, z("print", "hello")),
      rm("a", "/tool/xenstored"),
      read("a", "/tool/xenstored"),
    ],
  },
  {
    name: "permissions as dom0",
    steps: [
      open("a", 0),
      write("a", "/p", "v"),
      perms("a", "/p", "r5", "w6", "b7", "n8"),
      getPerms("a", "/p"),
      perms("a", "/p", "x5"),
      perms("a", "/p", "r"),
      perms("a", "/p"),
      perms("a", "/nothing", "n0"),
      write("a", "/p/child", "c"),
      getPerms("a", "/p/child"),
      getPerms("a", "@releaseDomain"),
      getPerms("a", "@introduceDomain"),
      perms("a", "@releaseDomain", "n0", "r5"),
      getPerms("a", "@releaseDomain"),
      getPerms("a", "@other"),
    ],
  },
  {
    name: "transactions and conflicts",
    steps: [
      open("a", 0),
      open("b", 0),
      write("a", "/x", "1"),
      start("a"),
      read("a", "/x", "T1"),
      write("b", "/x", "2"),
      read("a", "/x", "T1"),
      read("a", "/x"),
      write("a", "/y", "in-tx", "T1"),
      read("a", "/y", "T1"),
      read("b", "/y"),
      commit("a", "T1"),
      read("b", "/y"),
      start("a"),
      dir("a", "/", "T2"),
      write("b", "/z", "new"),
      dir("a", "/", "T2"),
      write("a", "/w", "1", "T2"),
      commit("a", "T2"),
      start("a"),
      write("a", "/t3", "v", "T3"),
      start("b"),
      write("b", "/t3", "w", "T4"),
      commit("b", "T4"),
      commit("a", "T3"),
      read("a", "/t3"),
      start("a"),
      write("a", "/x", "aborted", "T5"),
      abort("a", "T5"),
      read("a", "/x"),
      commit("a", "T5"),
      read("a", "/x", 4242),
      send("a", XS_TRANSACTION_START, z(""), "T5"),
      start("a"),
      send("a", XS_TRANSACTION_START, z(""), "T6"),
      send("a", XS_TRANSACTION_END, z("X"), "T6"),
      send("a", XS_TRANSACTION_END, z("T")),
      rm("a", "/x", "T6"),
      read("a", "/x", "T6"),
      read("a", "/x"),
      commit("a", "T6"),
      read("a", "/x"),
      start("a"),
      mkdir("a", "/newdir", "T7"),
      write("a", "/newdir/k", "v", "T7"),
      dir("a", "/newdir", "T7"),
      send("a", XS_DIRECTORY_PART, z("/newdir", "0"), "T7"),
      getPerms("a", "/newdir", "T7"),
      commit("a", "T7"),
      dir("a", "/newdir"),
    ],
  },
  {
    name: "watches",
    steps: [
      open("a", 0),
      open("b", 0),
      watch("b", "/w", "tok"),
      watch("b", "/w", "tok"),
      watch("b", "/w", "other"),
      write("a", "/w/a", "1"),
      write("a", "/w", "top"),
      write("a", "/wx", "not-below"),
      mkdir("a", "/w/dir"),
      perms("a", "/w/a", "n0", "r3"),
      rm("a", "/w"),
      unwatch("b", "/w", "other"),
      unwatch("b", "/w", "other"),
      watch("b", "relative/path", "rel"),
      write("a", "/local/domain/0/relative/path/x", "v"),
      watch("b", "@introduceDomain", "intro"),
      watch("b", "@releaseDomain", "rel"),
      watch("b", "@releaseDomain/5", "rel5"),
      watch("b", "@otherSpecial", "o"),
      start("a"),
      write("a", "/w/intx", "v", "T1"),
      write("a", "/w/intx2", "v", "T1"),
      commit("a", "T1"),
      send("b", XS_RESET_WATCHES, z("")),
      write("a", "/w/after-reset", "v"),
      watch("b", "/", "root"),
      write("a", "/q", "v"),
      watch("b", "/bad//path", "t"),
      send("b", XS_WATCH, z("/only-path")),
    ],
  },
  {
    name: "domU permissions",
    steps: [
      open("a", 0),
      ...domU(5),
      write("u", "data/x", "v"),
      read("u", "data/x"),
      read("u", "/local/domain/5/data/x"),
      getPerms("u", "data/x"),
      getPerms("u", "data"),
      dir("u", "/local/domain/5"),
      read("u", "/local/domain/0"),
      read("u", "/local/domain/0/nothing"),
      read("u", "/nothing"),
      read("u", "/tool/xenstored"),
      dir("u", "/local/domain"),
      write("u", "/outside", "v"),
      mkdir("u", "/local/domain/5/dir"),
      perms("u", "data/x", "n6"),
      perms("u", "data/x", "n5", "r6"),
      getPerms("u", "data/x"),
      perms("u", "/local/domain/0", "n5"),
      send("u", XS_IS_DOMAIN_INTRODUCED, z("5")),
      send("u", XS_IS_DOMAIN_INTRODUCED, z("0")),
      send("u", XS_INTRODUCE, z("6", "0", "1")),
      send("u", XS_RELEASE, z("5")),
      send("u", XS_SET_TARGET, z("5", "0")),
      send("u", XS_DEBUG, z("print", "x")),
      send("u", XS_GET_DOMAIN_PATH, z("5")),
      write("a", "/shared", "s"),
      perms("a", "/shared", "n0", "r5"),
      read("u", "/shared"),
      write("u", "/shared", "no"),
      write("a", "/shared-w", "s"),
      perms("a", "/shared-w", "n0", "w5"),
      write("u", "/shared-w", "yes"),
      read("u", "/shared-w"),
      write("u", "/shared-w/child", "c"),
      getPerms("a", "/shared-w/child"),
      watch("u", "/", "root"),
      write("a", "/private", "p"),
      write("a", "/shared", "changed"),
      watch("u", "data", "mine"),
      write("u", "data/y", "y"),
      watch("u", "@releaseDomain", "r"),
      watch("u", "@introduceDomain", "i"),
      rm("u", "data"),
      rm("u", "/shared"),
    ],
  },
  {
    name: "domU quotas (defaults: 2048-byte nodes)",
    steps: [
      open("a", 0),
      ...domU(5),
      write("u", "v2000", x(2000)),
      write("u", "v2048", x(2048)),
      write("u", "v2049", x(2049)),
      write("u", "v2030", x(2030)),
      write("u", "v2040", x(2040)),
      read("u", "v2000"),
      mkdir("u", `${x(100, "n")}`),
      perms("u", "v2000", "n5", "r1", "r2", "r3", "r4"),
      perms("u", "v2000", "n5", "r1", "r2", "r3", "r4", "r6"),
      write("a", "/local/domain/5/big", x(3000)),
      read("u", "big"),
      start("u"),
      write("u", "tx-big", x(2100), "T1"),
      write("u", "tx-ok", "small", "T1"),
      commit("u", "T1"),
      read("u", "tx-ok"),
      start("u"),
      write("u", "tx-ok2", "small", "T2"),
      commit("u", "T2"),
      read("u", "tx-ok2"),
    ],
  },
  {
    name: "domU quotas (entries 6, watches 3, transactions 2)",
    steps: [
      open("a", 0),
      ...domU(5),
      write("u", "n1", "1"),
      write("u", "n2", "2"),
      write("u", "n3", "3"),
      write("u", "n4", "4"),
      write("u", "n5", "5"),
      write("u", "n6", "6"),
      write("u", "n7", "7"),
      rm("u", "n1"),
      write("u", "n7", "7"),
      write("u", "d1/d2", "x"),
      watch("u", "n2", "w1"),
      watch("u", "n3", "w2"),
      watch("u", "n4", "w3"),
      watch("u", "n5", "w4"),
      watch("u", "n6", "w5"),
      unwatch("u", "n5", "w4"),
      watch("u", "n6", "w5"),
      start("u"),
      start("u"),
      start("u"),
      abort("u", "T1"),
      start("u"),
      rm("u", "n2", "T2"),
      write("u", "n8", "8", "T2"),
      commit("u", "T2"),
      start("u"),
      write("u", "/outside", "x", "T5"),
      write("u", "n2", "changed", "T5"),
      commit("u", "T5"),
      read("u", "n2"),
      start("u"),
      rm("u", "/local/domain/0", "T6"),
      read("u", "/nothing", "T6"),
      commit("u", "T6"),
      start("u"),
      send("u", XS_SET_PERMS, z("n3", "n5", "r1", "r2", "r3", "r4", "r6"), "T7"),
      write("u", "n3", "changed", "T7"),
      commit("u", "T7"),
      read("u", "n3"),
      start("u"),
      write("u", "n3", "again", "T8"),
      commit("u", "T8"),
      read("u", "n3"),
      write("u", "n2", "back"),
      start("u"),
      write("u", "n3", "at-quota", "T9"),
      commit("u", "T9"),
      start("u"),
      write("u", "n9", "new", "T10"),
      rm("u", "n9", "T10"),
      commit("u", "T10"),
      read("u", "n3"),
    ],
  },
  {
    name: "DIRECTORY_PART paging",
    steps: [
      open("a", 0),
      ...Array.from({ length: 24 }, (_, i) => write("a", `/big/${String(i).padStart(2, "0")}${x(200, "k")}`, "")),
      dir("a", "/big"),
      send("a", XS_DIRECTORY_PART, z("/big", "0")),
      send("a", XS_DIRECTORY_PART, z("/big", "3618")),
      send("a", XS_DIRECTORY_PART, z("/big", "4824")),
      send("a", XS_DIRECTORY_PART, z("/big", "100")),
      send("a", XS_DIRECTORY_PART, z("/big", "99999")),
      send("a", XS_DIRECTORY_PART, z("/big")),
      send("a", XS_DIRECTORY_PART, z("/big", "x")),
      send("a", XS_DIRECTORY_PART, z("/nothing", "0")),
      write("a", "/small/a", ""),
      send("a", XS_DIRECTORY_PART, z("/small", "0")),
      write("a", "/small/b", ""),
      send("a", XS_DIRECTORY_PART, z("/small", "0")),
      send("a", XS_DIRECTORY_PART, z("/small", "2")),
    ],
  },
  {
    name: "introduce, release and domain death",
    steps: [
      open("a", 0),
      watch("a", "@introduceDomain", "intro"),
      watch("a", "@releaseDomain", "rel"),
      send("a", XS_INTRODUCE, z("5", "0", "0")),
      send("a", XS_INTRODUCE, z("5", "0")),
      send("a", XS_INTRODUCE, z("abc", "0", "1")),
      ...domU(5),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("5")),
      send("a", XS_INTRODUCE, z("5", "0", "1")),
      send("a", XS_INTRODUCE, z("0", "0", "1")),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("abc")),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("32752")),
      write("u", "owned", "by5"),
      write("u", "owned/child", "c"),
      write("a", "/given", "g"),
      perms("a", "/given", "n5"),
      write("a", "/local/domain/5/by0", "x"),
      watch("a", "/local/domain/5/owned", "w-owned"),
      watch("a", "/given", "w-given"),
      send("a", XS_RESUME, z("5")),
      send("a", XS_RESUME, z("9")),
      send("a", XS_SET_TARGET, z("5", "0")),
      watch("a", "@releaseDomain/5", "rel5"),
      gone("u"),
      dies(5),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("5")),
      read("a", "/local/domain/5/owned"),
      read("a", "/given"),
      read("a", "/local/domain/5/by0"),
      getPerms("a", "/local/domain/5"),
      send("a", XS_RELEASE, z("5")),
      send("a", XS_RELEASE, z("0")),
    ],
  },
  {
    name: "release by dom0",
    steps: [
      open("a", 0),
      watch("a", "@releaseDomain", "rel"),
      ...domU(6),
      write("u", "mine", "m"),
      write("a", "/local/domain/6/by0", "x"),
      write("a", "/dom0-owned", "x"),
      perms("a", "/dom0-owned", "n0", "r6"),
      watch("a", "/local/domain/6", "home6"),
      gone("u"),
      send("a", XS_RELEASE, z("6")),
      getPerms("a", "/dom0-owned"),
      send("a", XS_IS_DOMAIN_INTRODUCED, z("6")),
      read("a", "/local/domain/6/mine"),
      send("a", XS_RELEASE, z("6")),
    ],
  },
  {
    name: "garbage",
    steps: [
      open("a", 0),
      write("a", "/a", "exists"),
      send("a", 99, z("/x")),
      send("a", 20, z("/x")),
      send("a", 15, z("/x", "t")),
      send("a", 16, z("EINVAL")),
      send("a", XS_READ, "/no-nul"),
      send("a", XS_READ, "/a"),
      send("a", XS_WRITE, z("/a", "two", "values")),
      read("a", "/a"),
      send("a", XS_MKDIR, "/mk-no-nul"),
      send("a", XS_RM, z("/a", "/b")),
      send("a", XS_GET_PERMS, "/a"),
      send("a", XS_READ, z("/a", "/b")),
      send("a", XS_READ, ""),
      send("a", XS_WRITE, "/no-nul-at-all"),
      send("a", XS_WATCH, z("/w", "t", "extra")),
      send("a", XS_READ, "\u00ff\u00fe\0"),
      send("a", XS_MKDIR, z(x(3100, "p").replace(/^p/, "/"))),
      raw("a", emitXsMessage(XS_READ, 1, 0, fromLatin1(z("/tool/xenstored"))).subarray(0, 10)),
      raw("a", emitXsMessage(XS_READ, 1, 0, fromLatin1(z("/tool/xenstored"))).subarray(10)),
      raw(
        "a",
        (() => {
          const m = emitXsMessage(XS_READ, 2, 0, fromLatin1(z("/a")));
          new DataView(m.buffer).setUint32(12, 4097, true);
          return m.subarray(0, 16);
        })(),
      ),
    ],
  },
  {
    name: "watch ordering and removal events",
    steps: [
      open("a", 0),
      open("b", 0),
      open("c", 0),
      watch("c", "/o", "c1"),
      watch("b", "/o/p", "b2"),
      watch("b", "/o", "b1"),
      watch("c", "/o/p/q", "c3"),
      write("a", "/o/p/q", "v"),
      write("a", "/o/p/q/r", "v"),
      write("a", "/o/s", "v"),
      rm("a", "/o/p"),
      rm("a", "/o"),
      watch("b", "/o", "b1"),
      watch("b", "", "empty-path"),
      watch("b", "/o", ""),
      unwatch("b", "/o", ""),
      unwatch("b", "/nothing", "b1"),
      unwatch("b", "local/domain/0/x", "nope"),
      start("a"),
      write("a", "/o/t1", "v", "T1"),
      rm("a", "/o/t1", "T1"),
      write("a", "/o/t2", "v", "T1"),
      commit("a", "T1"),
      start("a"),
      write("a", "/o/t3", "v", "T2"),
      abort("a", "T2"),
      write("a", "/o/t2", "same"),
      write("a", "/o/t2", "same"),
      perms("a", "/o/t2", "n0", "r1"),
      mkdir("a", "/o/t2"),
      rm("a", "/o/nothing"),
    ],
  },
  {
    name: "transaction edge cases",
    steps: [
      open("a", 0),
      open("b", 0),
      write("a", "/p/c", "1"),
      start("a"),
      write("a", "/p/c/new", "v", "T1"),
      rm("b", "/p"),
      commit("a", "T1"),
      read("a", "/p/c/new"),
      write("a", "/q", "1"),
      start("a"),
      rm("a", "/q", "T2"),
      write("b", "/q", "2"),
      commit("a", "T2"),
      read("a", "/q"),
      start("a"),
      read("a", "/unrelated", "T3"),
      write("b", "/unrelated", "now"),
      write("a", "/r", "v", "T3"),
      commit("a", "T3"),
      start("a"),
      write("a", "/s", "v", "T4"),
      read("b", "/s", "T4"),
      write("b", "/s", "w", "T4"),
      commit("b", "T4"),
      commit("a", "T4"),
      start("a"),
      start("a"),
      write("a", "/u", "1", "T5"),
      write("a", "/u", "2", "T6"),
      commit("a", "T6"),
      commit("a", "T5"),
      read("a", "/u"),
      start("a"),
      write("b", "/v", "x"),
      read("a", "/v", "T7"),
      commit("a", "T7"),
      start("a"),
      dir("a", "/", "T8"),
      write("b", "/new-top", "x"),
      write("a", "/w/x", "v", "T8"),
      commit("a", "T8"),
      start("a"),
      send("a", XS_WATCH, z("/in-tx", "t"), "T9"),
      send("a", XS_RESET_WATCHES, z(""), "T9"),
      send("a", XS_GET_DOMAIN_PATH, z("3"), "T9"),
      commit("a", "T9"),
    ],
  },
  {
    name: "domU paths, limits and relative watches",
    steps: [
      open("a", 0),
      ...domU(7),
      watch("u", "device", "dev"),
      write("u", "device/vif/0/state", "1"),
      write("a", "/local/domain/7/device/vif/0/state", "2"),
      rm("u", "device/vif"),
      write("u", x(2000, "r"), "v"),
      write("u", `a/${x(2030, "r")}`, "v"),
      write("u", `/local/domain/7/${x(2040, "s")}`, "v"),
      write("a", `/${x(3071, "t")}`, "v"),
      write("a", `/${x(3072, "t")}`, "v"),
      read("u", `/${x(3072, "t")}`),
      perms("u", "device", "n7", "r0", "R1"),
      perms("u", "device", "n7", "r99999"),
      perms("u", "device", "n7", "r32752"),
      getPerms("u", "device"),
      perms("a", "/local/domain/7/device", "n0", "r7"),
      write("u", "device/x", "v"),
      read("u", "device"),
      perms("a", "@introduceDomain", "n0", "r7"),
      watch("u", "@introduceDomain", "intro"),
      send("a", XS_INTRODUCE, z("8", "0", "1")),
      send("u", XS_RESET_WATCHES, z("")),
      send("a", XS_INTRODUCE, z("9", "0", "1")),
      send("u", XS_GET_DOMAIN_PATH, z("0")),
      start("u"),
      write("u", "tx", "v", "T1"),
      send("a", XS_READ, z("/local/domain/7/tx"), "T1"),
      commit("u", "T1"),
    ],
  },
  {
    name: "control messages",
    steps: [
      open("a", 0),
      send("a", XS_DEBUG, z("check")),
      send("a", XS_DEBUG, z("print")),
      send("a", XS_DEBUG, z("bogus-command")),
      send("a", XS_DEBUG, z("help")),
      send("a", XS_DEBUG, z("quota")),
      send("a", XS_DEBUG, z("quota", "0")),
      send("a", XS_DEBUG, z("log", "on")),
      send("a", XS_DEBUG, z("memreport")),
      send("a", XS_DEBUG, ""),
      send("a", XS_RESUME, z("0")),
      send("a", XS_RESUME, z("abc")),
      send("a", XS_SET_TARGET, z("3")),
      send("a", XS_SET_TARGET, z("0", "0")),
      send("a", XS_RELEASE, z("x")),
      send("a", XS_RELEASE, ""),
    ],
  },
  {
    name: "path limits, permission strings and commit events",
    steps: [
      open("a", 0),
      write("a", `/${x(2047, "t")}`, "v"),
      write("a", `/${x(2048, "t")}`, "v"),
      write("a", `/local/domain/3/${x(2048, "t")}`, "v"),
      write("a", `/local/domain/3/${x(2049, "t")}`, "v"),
      write("a", `/local/domain/99999/${x(2048, "t")}`, "v"),
      write("a", `/local/domain/03/${x(2048, "t")}`, "v"),
      write("a", `/local/domain/123456/${x(2040, "t")}`, "v"),
      write("a", `/local/domain/3${x(2047, "t")}`, "v"),
      write("a", `/local/domain/3/a/${x(2046, "t")}`, "v"),
      watch("a", `/${x(2048, "w")}`, "long"),
      write("a", "/p", "v"),
      ...["r99999", "r0x10", "r010", "r-1", "r+5", "r 5", "r5x", "r", "r0x", "r08", "r4294967297", "r99999999999999999999"].flatMap((q) => [
        perms("a", "/p", "n0", q),
        getPerms("a", "/p"),
      ]),
      perms("a", "/p", "n70000"),
      perms("a", "/p", "n-1"),
      perms("a", "/p", "n32752"),
      perms("a", "/p", "n32751"),
      getPerms("a", "/p"),
      watch("a", "/o", "w"),
      start("a"),
      write("a", "/o/a", "v", "T1"),
      write("a", "/o/b", "v", "T1"),
      write("a", "/o/a", "w", "T1"),
      mkdir("a", "/o/c", "T1"),
      commit("a", "T1"),
      start("a"),
      write("a", "/o/b", "v2", "T2"),
      write("a", "/o/a", "w2", "T2"),
      perms("a", "/o/b", "n0", "r1"),
      send("a", XS_SET_PERMS, z("/o/b", "n0", "r2"), "T2"),
      rm("a", "/o/c", "T2"),
      write("a", "/o/c", "back", "T2"),
      commit("a", "T2"),
    ],
  },
  {
    name: "targets, permission changes seen by a domU, big replies over the ring",
    steps: [
      open("a", 0),
      ...domU(5),
      mkdir("a", "/local/domain/6"),
      perms("a", "/local/domain/6", "n6"),
      send("a", XS_INTRODUCE, z("6", "0", "1")),
      write("a", "/local/domain/6/secret", "s6"),
      read("u", "/local/domain/6/secret"),
      send("a", XS_SET_TARGET, z("5", "6")),
      read("u", "/local/domain/6/secret"),
      write("u", "/local/domain/6/by-target", "t"),
      getPerms("a", "/local/domain/6/by-target"),
      perms("u", "/local/domain/6/secret", "n6", "r5"),
      write("a", "/vis", "v"),
      perms("a", "/vis", "n0", "r5"),
      watch("u", "/vis", "vis"),
      write("a", "/vis", "changed"),
      perms("a", "/vis", "n0"),
      write("a", "/vis", "hidden"),
      perms("a", "/vis", "n0", "r5"),
      rm("a", "/vis"),
      write("a", "/big", x(4000, "b")),
      perms("a", "/big", "n0", "r5"),
      read("u", "/big"),
      ...Array.from({ length: 30 }, (_, i) => write("a", `/many/${x(100, String.fromCharCode(97 + (i % 26)))}${i}`, "")),
      perms("a", "/many", "n0", "r5"),
      dir("u", "/many"),
      send("u", XS_DIRECTORY_PART, z("/many", "0")),
      send("u", XS_DIRECTORY_PART, z("/many", "3030")),
      write("u", "w1", x(1000, "1")),
      write("u", "w2", x(1500, "2")),
      read("u", "w2"),
    ],
  },
  {
    name: "domU permission-count quota (--perm-nb 2)",
    steps: [
      open("a", 0),
      ...domU(5),
      write("u", "k", "v"),
      perms("u", "k", "n5", "r1"),
      perms("u", "k", "n5", "r1", "r2"),
      perms("u", "k", "n5", "r1", "r2", "r3"),
      perms("a", "/local/domain/5/k", "n5", "r1", "r2", "r3", "r4"),
      getPerms("u", "k"),
      write("u", "k/child", "c"),
      getPerms("u", "k/child"),
    ],
  },
  {
    name: "nodes accessed per transaction (-Q transaction-nodes 4)",
    steps: [
      open("a", 0),
      ...domU(5),
      ...[1, 2, 3, 4, 5, 6].map((i) => write("u", `n${i}`, "v")),
      start("u"),
      ...[1, 2, 3, 4, 5, 6].map((i) => read("u", `n${i}`, "T1")),
      read("u", "n1", "T1"),
      commit("u", "T1"),
      start("u"),
      ...[1, 2, 3].map((i) => read("u", `none${i}`, "T2")),
      write("u", "n1", "x", "T2"),
      dir("u", "/local/domain/5", "T2"),
      write("u", "n2", "x", "T2"),
      commit("u", "T2"),
      read("u", "n1"),
      start("u"),
      write("u", "new/deep/node", "x", "T3"),
      write("u", "n1", "y", "T3"),
      commit("u", "T3"),
      start("a"),
      ...[1, 2, 3, 4, 5, 6].map((i) => read("a", `/local/domain/5/n${i}`, "T4")),
      commit("a", "T4"),
      send("a", XS_DEBUG, z("log", "off")),
      send("a", XS_DEBUG, z("log", "x")),
      send("a", XS_DEBUG, z("log", "on", "extra")),
      send("a", XS_DEBUG, z("log")),
    ],
  },
  {
    // Found by the random sessions: Debian's daemon aborts on this; it gets a daemon of its own.
    name: "a malformed READ of a removed node",
    steps: [open("a", 0), write("a", "/s", ""), rm("a", "/s"), send("a", XS_READ, z("/s", "extra"))],
  },
];

/** mulberry32: a small seeded generator, so a random script is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded random session: two dom0 connections and domU 5 write, read, remove, list, change
 * permissions, watch and run transactions (committed, aborted, conflicting) over a small set
 * of paths, so that the operations collide.
 */
export function randomScript(seed: number, length: number, lifecycle = false): DiffScript {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const dom0Paths = ["/r", "/r/a", "/r/a/b", "/r/c", "/local/domain/5/x", "/local/domain/5/x/y", "/local/domain/5", "/s"];
  const domUPaths = ["x", "x/y", "z", "/r/a", "/r/c", "/local/domain/5/z/w", "/s"];
  const conns = ["a", "b", "u"] as const;
  const openTx: Record<string, string[]> = { a: [], b: [], u: [] };
  let nextTx = 0;
  const steps: DiffStep[] = [open("a", 0), open("b", 0), ...domU(5)];
  while (steps.length < length) {
    const c = pick(conns);
    const paths = c === "u" ? domUPaths : dom0Paths;
    const p = pick(paths);
    const inTx = openTx[c]!.length > 0 && rnd() < 0.5 ? pick(openTx[c]!) : undefined;
    const r = rnd();
    if (r < 0.22) steps.push(write(c, p, pick(["", "v", "w", x(40 + Math.floor(rnd() * 40), "q")]), inTx));
    else if (r < 0.36) steps.push(read(c, p, inTx));
    else if (r < 0.44) steps.push(rm(c, p, inTx));
    else if (r < 0.48) steps.push(mkdir(c, p, inTx));
    else if (r < 0.56) steps.push(dir(c, p, inTx));
    else if (r < 0.6) steps.push(getPerms(c, p, inTx));
    else if (r < 0.66)
      steps.push(send(c, XS_SET_PERMS, z(p, pick(["n0", "n5", "b0", "r5"]), ...(rnd() < 0.5 ? [pick(["r5", "w5", "b5", "n5", "r0"])] : [])), inTx));
    else if (r < 0.72) steps.push(watch(c, pick([...paths, "@releaseDomain", "@introduceDomain"]), pick(["t1", "t2"])));
    else if (r < 0.75) steps.push(unwatch(c, pick(paths), pick(["t1", "t2"])));
    else if (r < 0.84) {
      if (openTx[c]!.length < 2) {
        steps.push(start(c));
        openTx[c]!.push(`T${++nextTx}`);
      }
    } else if (r < 0.97) {
      const t = openTx[c]!.shift();
      if (t !== undefined) steps.push(rnd() < 0.75 ? commit(c, t) : abort(c, t));
    } else if (r < 0.985 || !lifecycle) {
      steps.push(send(c, XS_DIRECTORY_PART, z(p, pick(["0", "1", "3"])), inTx));
    } else {
      // Domain 6 (no connection of its own) comes and goes; its nodes go with it.
      steps.push(
        pick([
          send("a", XS_INTRODUCE, z("6", "0", "1")),
          send("a", XS_RELEASE, z("6")),
          send("a", XS_IS_DOMAIN_INTRODUCED, z("6")),
          send("a", XS_SET_TARGET, z("6", "5")),
          send("b", XS_SET_PERMS, z(pick(dom0Paths), "n6", "r5")),
          send(c, XS_RESET_WATCHES, z("")),
          send(c, 99, z(p)),
          send(c, XS_GET_DOMAIN_PATH, z(pick(["5", "6", "x"]))),
        ]),
      );
    }
  }
  return { name: `random session ${seed}${lifecycle ? " (with domain lifecycle)" : ""}`, steps };
}

/** The random sessions the test runs (seeds fixed: the same steps every time). */
export const RANDOM_SCRIPTS: readonly DiffScript[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8].map((seed) => randomScript(seed, 150)),
  ...[1, 2, 3, 4].map((seed) => randomScript(seed, 150, true)),
];

/** A difference the differential test expects, with the reason netlab differs on purpose. */
export interface KnownDifference {
  readonly script: string;
  /** The step as describeStep() renders it. */
  readonly request: string;
  readonly reason: string;
}

const CONTROL_REASON =
  "4.17's XS_CONTROL diagnostics (help text listing live-update, quota/memory reports, log switches) describe daemon internals netlab does not have; netlab's DEBUG answers print/check/help only";

/** Every difference that remains; the test fails on any other, and on any of these that is gone. */
export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    script: "a malformed READ of a removed node",
    request: "a READ /s\\0extra\\0",
    reason:
      "Debian's 4.17 xenstored aborts (Assertion `conn->in == NULL' failed in consider_message, xenstored_core.c:2118) and every connection closes; netlab answers ENOENT, as 4.17 does for the same request about a node that never existed",
  },
  { script: "control messages", request: "a DEBUG help\\0", reason: CONTROL_REASON },
  { script: "control messages", request: "a DEBUG quota\\0", reason: CONTROL_REASON },
  { script: "control messages", request: "a DEBUG quota\\00\\0", reason: CONTROL_REASON },
];
